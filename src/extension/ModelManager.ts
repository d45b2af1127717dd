// Which model file the engine gets: reads the (trust-checked) setting, downloads "hf:" models
// only with the user's consent, and runs the Select Model picker.
import {readdir, stat} from "node:fs/promises";
import {homedir} from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import type {ModelDescription} from "../common/cacheStatus";
import {ModelDownloadDeclinedError, ModelFileMissingError, ModelNotConfiguredError, OperationCancelledError} from "../common/editorErrors";
import {formatBytes, recommendedModels} from "../common/recommendedModels";
import type {Config} from "../config/Config";
import {describeModelSetting, interpretModelSetting, isHuggingFaceUri, type ModelSetting} from "../config/modelSetting";
import type {ExtensionLog} from "./ExtensionLog";
import type {DownloadModel} from "./extensionDependencies";

const downloadedModelsKey = "kvDistill.downloadedModels";

export class ModelManager {
    private readonly demoModelsDirectory: string;

    public constructor(
        private readonly context: vscode.ExtensionContext,
        private readonly config: Config,
        private readonly log: ExtensionLog,
        private readonly downloadModel: DownloadModel | undefined
    ) {
        this.demoModelsDirectory = vscode.Uri.joinPath(context.extensionUri, "models").fsPath;
    }

    public get setting(): ModelSetting {
        return interpretModelSetting(this.config.settings.model.value, homedir(), this.demoModelsDirectory);
    }

    public describe(): ModelDescription {
        return describeModelSetting(this.setting);
    }

    /**
     * The local GGUF path to load. With `interactive`, an "hf:" model that is not downloaded yet
     * is offered for download; without, it is an error.
     */
    public async resolveModelPath(interactive: boolean, signal?: AbortSignal): Promise<string> {
        const setting = this.setting;
        if (setting.kind === "none")
            throw new ModelNotConfiguredError(this.config.settings.model.ignoredUntrustedValue);
        if (setting.kind === "path") {
            await this.checkReadableFile(setting.path);
            return setting.path;
        }
        const approximate = recommendedModels.find((model) => model.uri === setting.uri)?.approximateBytes;
        return this.ensureDownloaded(setting.uri, approximate, interactive, signal);
    }

    public async selectModelInteractively(): Promise<boolean> {
        type Choice = vscode.QuickPickItem & {action: () => Promise<boolean>};
        const choices: Choice[] = [{
            label: `$(file) ${vscode.l10n.t("Choose a GGUF model file…")}`,
            detail: vscode.l10n.t("A model file on this machine"),
            action: () => this.pickFile()
        }];
        if (this.downloadModel !== undefined) {
            for (const model of recommendedModels) {
                choices.push({
                    label: `$(cloud-download) ${vscode.l10n.t("Download {0}", model.label)}`,
                    description: vscode.l10n.t("about {0}", formatBytes(model.approximateBytes)),
                    detail: `${model.description} — ${model.uri}`,
                    action: async () => this.useDownloaded(model.uri, model.approximateBytes)
                });
            }
        }
        for (const demoModel of await this.findDemoModels()) {
            choices.push({
                label: `$(beaker) ${vscode.l10n.t("Use the demo model ({0})", path.basename(demoModel))}`,
                detail: vscode.l10n.t("A small demo model trained by the KV-Distill project and bundled with the extension. Good for trying the extension; its answers are far below a real code model's."),
                action: async () => this.store(demoModel, "demo model")
            });
        }
        choices.push({
            label: `$(edit) ${vscode.l10n.t("Enter a path or an hf: URI…")}`,
            detail: vscode.l10n.t("For example ~/models/model.gguf or hf:Qwen/Qwen3-4B-GGUF:Q4_K_M"),
            action: () => this.enterValue()
        });
        const current = this.describe();
        const picked = await vscode.window.showQuickPick(choices, {
            title: vscode.l10n.t("KV-Distill: Select Model"),
            placeHolder: current.configured ? vscode.l10n.t("Current model: {0}", current.label) : vscode.l10n.t("No model selected yet"),
            matchOnDetail: true
        });
        if (picked === undefined)
            return false;
        return picked.action();
    }

    public async findDemoModels(): Promise<string[]> {
        try {
            const names = await readdir(this.demoModelsDirectory);
            return names.filter((name) => name.toLowerCase().endsWith(".gguf")).sort().map((name) => path.join(this.demoModelsDirectory, name));
        } catch {
            return [];
        }
    }

    private async pickFile(): Promise<boolean> {
        const picked = await vscode.window.showOpenDialog({
            canSelectMany: false,
            canSelectFolders: false,
            filters: {[vscode.l10n.t("GGUF models")]: ["gguf"]},
            title: vscode.l10n.t("Select a GGUF model file"),
            openLabel: vscode.l10n.t("Use This Model")
        });
        if (picked?.[0] === undefined)
            return false;
        return this.store(picked[0].fsPath, "file");
    }

    private async enterValue(): Promise<boolean> {
        const value = await vscode.window.showInputBox({
            title: vscode.l10n.t("KV-Distill: Model path or hf: URI"),
            value: this.config.settings.model.value,
            validateInput: (text) => text.trim() === "" ? vscode.l10n.t("Enter a path or an hf: URI") : undefined
        });
        if (value === undefined)
            return false;
        if (isHuggingFaceUri(value))
            return this.useDownloaded(value.trim(), undefined);
        const setting = interpretModelSetting(value, homedir(), this.demoModelsDirectory);
        if (setting.kind !== "path")
            return false;
        await this.checkReadableFile(setting.path);
        return this.store(setting.path, "path");
    }

    private async useDownloaded(uri: string, approximateBytes: number | undefined): Promise<boolean> {
        await this.ensureDownloaded(uri, approximateBytes, true, undefined);
        return this.store(uri, "download");
    }

    /** The local file of an "hf:" model; downloads it, after asking, only when `interactive`. */
    private async ensureDownloaded(uri: string, approximateBytes: number | undefined, interactive: boolean, signal: AbortSignal | undefined): Promise<string> {
        const downloaded = this.downloadedModels()[uri];
        if (downloaded !== undefined && await this.isFile(downloaded))
            return downloaded;
        if (this.downloadModel === undefined)
            throw new ModelDownloadDeclinedError(uri);
        try {
            // Already downloaded (by another window, or before this state was kept): no question.
            const localPath = await this.downloadModel(uri, {consent: false, signal});
            await this.context.globalState.update(downloadedModelsKey, {...this.downloadedModels(), [uri]: localPath});
            return localPath;
        } catch {
            // Not downloaded yet.
        }
        if (!interactive)
            throw new ModelDownloadDeclinedError(uri);
        return this.downloadWithConsent(uri, approximateBytes, signal);
    }

    private async store(value: string, how: string): Promise<boolean> {
        await this.config.setModelPath(value);
        this.log.info(`Model selected (${how}): ${value}`);
        const description = this.describe();
        void vscode.window.showInformationMessage(vscode.l10n.t("KV-Distill will use {0}. Run Distill Workspace to build the cache.", description.configured ? description.label : value));
        return true;
    }

    private async downloadWithConsent(uri: string, approximateBytes: number | undefined, signal: AbortSignal | undefined): Promise<string> {
        if (this.downloadModel === undefined)
            throw new ModelDownloadDeclinedError(uri);
        const size = approximateBytes === undefined ? vscode.l10n.t("size shown once the download starts") : vscode.l10n.t("about {0}", formatBytes(approximateBytes));
        const download = vscode.l10n.t("Download");
        const answer = await vscode.window.showWarningMessage(
            vscode.l10n.t("Download the model {0} ({1}) from Hugging Face? It is saved in the extension's storage on this machine.", uri, size),
            {modal: true},
            download
        );
        if (answer !== download) {
            this.log.info(`Model download declined: ${uri}`);
            throw new ModelDownloadDeclinedError(uri);
        }
        this.log.info(`Model download started: ${uri}`);
        const downloadModel = this.downloadModel;
        const localPath = await vscode.window.withProgress(
            {location: vscode.ProgressLocation.Notification, title: vscode.l10n.t("Downloading {0}", uri), cancellable: true},
            async (progress, token) => {
                const controller = new AbortController();
                const cancel = token.onCancellationRequested(() => controller.abort());
                const forward = (): void => controller.abort();
                signal?.addEventListener("abort", forward, {once: true});
                let reported = 0;
                try {
                    return await downloadModel(uri, {
                        consent: true,
                        signal: controller.signal,
                        onProgress: ({downloadedBytes, totalBytes}) => {
                            if (totalBytes === undefined || totalBytes <= 0) {
                                progress.report({message: formatBytes(downloadedBytes)});
                                return;
                            }
                            const percent = Math.floor((downloadedBytes / totalBytes) * 100);
                            progress.report({increment: Math.max(0, percent - reported), message: `${formatBytes(downloadedBytes)} / ${formatBytes(totalBytes)}`});
                            reported = Math.max(reported, percent);
                        }
                    });
                } catch (error) {
                    if (controller.signal.aborted)
                        throw new OperationCancelledError("The model download", {cause: error});
                    throw error;
                } finally {
                    cancel.dispose();
                    signal?.removeEventListener("abort", forward);
                }
            }
        );
        await this.context.globalState.update(downloadedModelsKey, {...this.downloadedModels(), [uri]: localPath});
        this.log.info(`Model downloaded: ${uri} -> ${localPath}`);
        return localPath;
    }

    private downloadedModels(): Record<string, string> {
        const stored = this.context.globalState.get<unknown>(downloadedModelsKey);
        if (typeof stored !== "object" || stored === null)
            return {};
        return Object.fromEntries(Object.entries(stored as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
    }

    private async checkReadableFile(filePath: string): Promise<void> {
        if (!(await this.isFile(filePath)))
            throw new ModelFileMissingError(filePath);
    }

    private async isFile(filePath: string): Promise<boolean> {
        try {
            return (await stat(filePath)).isFile();
        } catch {
            return false;
        }
    }
}
