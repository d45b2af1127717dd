import {randomUUID} from "node:crypto";
import {stat} from "node:fs/promises";
import * as path from "node:path";
import * as os from "node:os";
import * as vscode from "vscode";
import {buildExplainSelectionQuestion, type SelectionToExplain} from "../common/buildExplainSelectionQuestion";
import {ChatHistoryStore} from "../common/ChatHistoryStore";
import {chatStringsEnglish, type ChatStrings} from "../common/chatStrings";
import {DebouncedAction} from "../common/DebouncedAction";
import {formatPercent} from "../common/describeStatusBar";
import {EngineUnavailableError, NoWorkspaceError} from "../common/editorErrors";
import {readEnvironment} from "../common/environment";
import {findWorkspaceFileReferences} from "../common/findWorkspaceFileReferences";
import {nodeFileSystemProbe} from "../common/nodeFileSystemProbe";
import type {BackendState} from "../common/overviewProtocol";
import {resolveWorkspaceFileReference} from "../common/resolveWorkspaceFileReference";
import {StaleTracker} from "../common/StaleTracker";
import {WorkspaceExclusionMatcher} from "../common/WorkspaceExclusionMatcher";
import {absolutePathToDisplayPath, displayPathToAbsolutePath} from "../common/workspacePaths";
import {Config} from "../config/Config";
import type {CacheReport, EngineClientApi} from "../engine/engineApi";
import {ChildProcessGpuBackendBuildRunner} from "../native/ChildProcessGpuBackendBuildRunner";
import {probeBackend} from "./backendProbe";
import {buildDistillOptions} from "./buildDistillOptions";
import {CacheReportDocumentProvider} from "./CacheReportDocumentProvider";
import {ChatController} from "./ChatController";
import {ChatViewProvider} from "./ChatViewProvider";
import {ExtensionLog} from "./ExtensionLog";
import {runGpuBackendBuildFlow, type GpuBackendBuildUi} from "./GpuBackendBuildFlow";
import type {KvDistillDependencies} from "./extensionDependencies";
import {registerChatParticipant} from "./KvDistillChatParticipant";
import {KvDistillLanguageModelProvider, languageModelId, languageModelVendor} from "./KvDistillLanguageModelProvider";
import {ModelManager} from "./ModelManager";
import {OverviewViewProvider} from "./OverviewViewProvider";
import {presentError} from "./presentError";
import {StatusBarController} from "./StatusBarController";
import {WorkspaceCacheService} from "./WorkspaceCacheService";
import {currentWorkspaceFolders, WorkspaceWatcher} from "./WorkspaceWatcher";

const rememberedReportKey = "kvDistill.lastCacheReport";
const maxRememberedFiles = 20_000;

type RememberedReport = {settingsKey: string; report: CacheReport};

/** Owns everything the extension creates; `activate` stays tiny and `dispose` undoes it all. */
export class KvDistillExtension {
    private readonly disposables: vscode.Disposable[] = [];
    private engine: EngineClientApi | undefined;
    private service: WorkspaceCacheService | undefined;
    private controller: ChatController | undefined;

    private constructor(
        private readonly context: vscode.ExtensionContext,
        private readonly dependencies: KvDistillDependencies,
        public readonly log: ExtensionLog
    ) {}

    public static async activate(context: vscode.ExtensionContext, dependencies: KvDistillDependencies = {}): Promise<KvDistillExtension> {
        const log = new ExtensionLog(readEnvironment().logFile);
        const extension = new KvDistillExtension(context, dependencies, log);
        try {
            extension.start();
            return extension;
        } catch (error) {
            log.error("KV-Distill failed to activate", error);
            void vscode.window.showErrorMessage(vscode.l10n.t("KV-Distill failed to activate: {0}", error instanceof Error ? error.message : String(error)));
            await extension.dispose();
            throw error;
        }
    }

    public async dispose(): Promise<void> {
        this.controller?.dispose();
        await this.service?.dispose();
        for (const disposable of this.disposables.splice(0).reverse())
            disposable.dispose();
        const engine = this.engine;
        this.engine = undefined;
        await engine?.dispose().catch((error: unknown) => this.log.error("Engine client did not shut down cleanly", error));
    }

    private start(): void {
        const context = this.context;
        const log = this.log;
        const version = String((context.extension.packageJSON as {version?: unknown}).version ?? "unknown");
        log.info(`KV-Distill ${version} activated (VS Code ${vscode.version}, ${process.platform}-${process.arch}, Node ${process.versions.node})`);
        this.disposables.push(log);

        const overview = new OverviewViewProvider(context.extensionUri, {extensionVersion: version, backend: {kind: "probing"}}, () => log.show());
        this.disposables.push(
            overview,
            vscode.window.registerWebviewViewProvider(OverviewViewProvider.viewId, overview),
            vscode.commands.registerCommand("kvDistill.showLog", () => log.show())
        );
        void this.probeBackend().then((backend) => overview.update({extensionVersion: version, backend}));

        const config = new Config();
        this.disposables.push(config);
        const settings = config.settings;
        log.info(`Settings: model ${settings.model.value === "" ? "(none)" : `${settings.model.value} (from ${settings.model.source} settings)`}, keep ${settings.keepRatio}, scorer ${settings.scorer}, segment ${settings.segmentTokens} tokens, auto-refresh ${settings.autoRefresh}`);
        if (settings.model.ignoredUntrustedValue)
            log.warn("The workspace sets kvDistill.model.path but is not trusted: that value is ignored");

        const folders = currentWorkspaceFolders();
        const matcher = new WorkspaceExclusionMatcher(folders);
        const tracker = new StaleTracker({folders, isExcluded: (filePath) => matcher.isExcluded(filePath)});
        const models = new ModelManager(context, config, log, this.dependencies.downloadModel);
        const engineAvailable = this.dependencies.createEngineClient !== undefined;
        if (!engineAvailable)
            log.warn("No engine is wired into this build: distill and ask are unavailable");

        const service = new WorkspaceCacheService({
            getEngine: () => this.createEngine(config),
            engineAvailable,
            getFolders: currentWorkspaceFolders,
            cacheDir: () => this.cacheDir(),
            buildDistillOptions: async (interactive, signal) => {
                const workspaceFolders = currentWorkspaceFolders();
                const cacheDir = this.cacheDir();
                if (workspaceFolders.length === 0 || cacheDir === undefined)
                    throw new NoWorkspaceError();
                const modelPath = await models.resolveModelPath(interactive, signal);
                const excludes = workspaceFolders.flatMap((folder) => config.filesExcludeGlobs(vscode.Uri.file(folder.path)));
                return buildDistillOptions({settings: config.settings, folders: workspaceFolders.map((folder) => folder.path), cacheDir, modelPath, filesExcludeGlobs: excludes, homeDirectory: os.homedir()});
            },
            describeModel: () => models.describe(),
            idleUnloadMinutes: () => config.settings.idleUnloadMinutes,
            maxAnswerTokens: () => config.settings.maxAnswerTokens,
            staleTracker: tracker,
            log
        });
        this.service = service;

        const history = new ChatHistoryStore(context.workspaceState, randomUUID);
        const controller = new ChatController({
            service,
            history,
            strings: localizedChatStrings(),
            createId: randomUUID,
            now: () => new Date(),
            resolveLinks: async (answer) => (await findWorkspaceFileReferences(answer, currentWorkspaceFolders(), nodeFileSystemProbe)).map((reference) => reference.text),
            openFileReference: (reference) => this.openFileReference(reference),
            openExternalLink: async (url) => {
                log.info(`Opening external link ${url}`);
                await vscode.env.openExternal(vscode.Uri.parse(url, true));
            },
            copyText: async (text) => vscode.env.clipboard.writeText(text),
            runCommand: async (command) => {
                await vscode.commands.executeCommand(`kvDistill.${command}`);
            },
            log,
            t: vscode.l10n.t
        });
        this.controller = controller;

        const chatView = new ChatViewProvider(context.extensionUri, controller, log, () => {
            if (service.status.cache.kind === "unknown")
                void service.loadSavedReport();
        });
        const statusBar = new StatusBarController(log);
        const reportProvider = new CacheReportDocumentProvider(service, log);
        const watcher = new WorkspaceWatcher(tracker, matcher, config, log);
        const languageModel = new KvDistillLanguageModelProvider(service, log, version, () => config.settings.maxAnswerTokens);
        this.disposables.push(
            chatView,
            statusBar,
            reportProvider,
            watcher,
            languageModel,
            vscode.window.registerWebviewViewProvider(ChatViewProvider.viewId, chatView),
            vscode.workspace.registerTextDocumentContentProvider(CacheReportDocumentProvider.scheme, reportProvider)
        );
        this.registerNativeChat(service, languageModel);

        let rememberedReport = service.lastReport;
        const statusSubscription = service.onDidChangeStatus((status) => {
            statusBar.update(status);
            reportProvider.refresh();
            if (service.lastReport !== rememberedReport) {
                rememberedReport = service.lastReport;
                void this.rememberReport(rememberedReport, config);
            }
        });
        this.disposables.push(new vscode.Disposable(() => statusSubscription.dispose()));
        statusBar.update(service.status);
        watcher.start();

        const autoRefresh = new DebouncedAction(() => {
            if (!config.settings.autoRefresh || !service.status.stale.stale)
                return;
            if (service.status.busy !== undefined || controller.isAnswering) {
                autoRefresh.trigger(config.settings.autoRefreshDelaySeconds * 1000);
                return;
            }
            log.info("Auto-refresh: edits settled, refreshing the cache");
            service.distill("auto-refresh").catch((error: unknown) => log.error("Auto-refresh failed", error));
        });
        const staleSubscription = tracker.onDidChange((summary) => {
            if (summary.stale && config.settings.autoRefresh && engineAvailable)
                autoRefresh.trigger(config.settings.autoRefreshDelaySeconds * 1000);
        });
        this.disposables.push(autoRefresh, new vscode.Disposable(() => staleSubscription.dispose()));

        this.disposables.push(config.onDidChange((change) => {
            log.info(`Settings changed (model: ${change.model}, index rules: ${change.indexRules}, distill: ${change.distill})`);
            service.settingsChanged();
            if (change.model) {
                languageModel.modelChanged();
                if (config.settings.model.ignoredUntrustedValue)
                    log.warn("The workspace sets kvDistill.model.path but is not trusted: that value is ignored");
            }
        }));

        this.registerCommands(service, controller, chatView, reportProvider, models);
        this.restoreRememberedReport(service, config, tracker);
    }

    private registerNativeChat(service: WorkspaceCacheService, languageModel: KvDistillLanguageModelProvider): void {
        try {
            this.disposables.push(vscode.lm.registerLanguageModelChatProvider(languageModelVendor, languageModel));
            this.log.info(`Language model provider registered (vendor ${languageModelVendor})`);
        } catch (error) {
            this.log.error("Could not register the language model provider", error);
        }
        try {
            this.disposables.push(registerChatParticipant({
                service,
                log: this.log,
                extensionUri: this.context.extensionUri,
                findFileReferences: (answer) => findWorkspaceFileReferences(answer, currentWorkspaceFolders(), nodeFileSystemProbe),
                describeSelection: (editor) => describeSelection(editor)
            }));
            this.log.info("Chat participant @kvdistill registered");
        } catch (error) {
            this.log.error("Could not register the chat participant", error);
        }
    }

    private registerCommands(
        service: WorkspaceCacheService,
        controller: ChatController,
        chatView: ChatViewProvider,
        reportProvider: CacheReportDocumentProvider,
        models: ModelManager
    ): void {
        const log = this.log;
        const register = (command: string, run: (...args: unknown[]) => Promise<void>): void => {
            this.disposables.push(vscode.commands.registerCommand(command, async (...args: unknown[]) => {
                log.info(`Command: ${command}`);
                try {
                    await run(...args);
                } catch (error) {
                    await presentError(log, command, error);
                }
            }));
        };

        register("kvDistill.askAboutWorkspace", async (question) => {
            let text = typeof question === "string" ? question : undefined;
            if (text === undefined) {
                text = await vscode.window.showInputBox({
                    title: vscode.l10n.t("KV-Distill: Ask About Workspace"),
                    prompt: vscode.l10n.t("The local model answers with the whole workspace in context"),
                    placeHolder: vscode.l10n.t("For example: where is the configuration loaded?")
                });
            }
            if (text === undefined || text.trim() === "")
                return;
            await chatView.reveal();
            if (this.refuseWhileAnswering(controller))
                return;
            await controller.ask(text);
        });

        register("kvDistill.explainSelection", async () => {
            const editor = vscode.window.activeTextEditor;
            if (editor === undefined || editor.selection.isEmpty) {
                void vscode.window.showInformationMessage(vscode.l10n.t("Select some code in an editor first."));
                return;
            }
            const question = buildExplainSelectionQuestion(describeSelection(editor), "", vscode.l10n.t);
            await chatView.reveal();
            if (this.refuseWhileAnswering(controller))
                return;
            await controller.ask(question);
        });

        register("kvDistill.distillWorkspace", async () => {
            await vscode.window.withProgress(
                {location: vscode.ProgressLocation.Notification, title: vscode.l10n.t("KV-Distill: Distilling the workspace"), cancellable: true},
                async (progress, token) => {
                    const operation = new AbortController();
                    const cancellation = token.onCancellationRequested(() => operation.abort());
                    let reportedFraction = 0;
                    const subscription = service.onDidChangeStatus((status) => {
                        const busy = status.busy;
                        if (busy === undefined || busy.operation !== "distill")
                            return;
                        const increment = busy.fraction === undefined ? undefined : Math.max(0, (busy.fraction - reportedFraction) * 100);
                        if (busy.fraction !== undefined)
                            reportedFraction = Math.max(reportedFraction, busy.fraction);
                        progress.report({message: busy.message === undefined ? busy.phase : `${busy.phase}: ${busy.message}`, increment});
                    });
                    try {
                        const result = await service.distill("command", operation.signal);
                        void vscode.window.showInformationMessage(vscode.l10n.t(
                            "KV-Distill: {0} files in the cache, {1} of {2} tokens kept ({3}, cache {4}).",
                            result.files, result.keptTokens, result.promptTokens, formatPercent(result.effectiveKeepRatio), result.cacheOutcome
                        ));
                    } finally {
                        subscription.dispose();
                        cancellation.dispose();
                    }
                }
            );
        });

        register("kvDistill.showCacheReport", () => reportProvider.show());

        register("kvDistill.selectModel", async () => {
            await models.selectModelInteractively();
        });

        register("kvDistill.clearCache", async () => {
            const clear = vscode.l10n.t("Clear Cache");
            const answer = await vscode.window.showWarningMessage(
                vscode.l10n.t("Delete the saved KV caches of this workspace? The next question or Distill Workspace builds them again."),
                {modal: true},
                clear
            );
            if (answer !== clear)
                return;
            await service.clearCache();
            void vscode.window.showInformationMessage(vscode.l10n.t("KV-Distill: cache cleared."));
        });

        register("kvDistill.unloadModel", async () => {
            await service.unloadModel("command");
            void vscode.window.showInformationMessage(vscode.l10n.t("KV-Distill: model unloaded; it loads again on the next question."));
        });

        register("kvDistill.buildGpuBackend", async () => {
            await runGpuBackendBuildFlow({
                ui: this.gpuBackendBuildUi(),
                runner: new ChildProcessGpuBackendBuildRunner({cliPath: path.join(this.context.extensionPath, "dist", "cli.js"), nodeExecutable: process.execPath}),
                log,
                restartEngine: (reason) => service.restartEngine(reason),
                t: (message, ...args) => vscode.l10n.t(message, ...args)
            });
        });

        register("kvDistill.openChatInEditor", async () => {
            chatView.openInEditor();
        });

        register("kvDistill.openNativeChat", async () => {
            // Ask mode with this extension's model selected: the @kvdistill participant then
            // works without any other AI extension (agent mode wants tool calling, which the
            // local model does not offer).
            await vscode.commands.executeCommand("workbench.action.chat.open", {
                query: "@kvdistill ",
                isPartialQuery: true,
                mode: "ask",
                modelSelector: {vendor: languageModelVendor, id: languageModelId}
            });
        });

        register("kvDistill.newChat", async () => {
            await controller.newChat();
            await chatView.reveal();
            controller.focusInput();
        });
    }

    /**
     * Shows the cache remembered from the last session at once, without starting the engine,
     * and marks it stale when files changed while the editor was closed.
     */
    private restoreRememberedReport(service: WorkspaceCacheService, config: Config, tracker: StaleTracker): void {
        const remembered = this.context.workspaceState.get<RememberedReport>(rememberedReportKey);
        if (remembered === undefined || remembered.settingsKey !== settingsKey(config) || !Array.isArray(remembered.report?.files))
            return;
        service.restoreReport(remembered.report);
        this.log.info(`Remembered cache: ${remembered.report.files.length} files, made ${remembered.report.createdAt}`);
        const createdMs = Date.parse(remembered.report.createdAt);
        if (!Number.isFinite(createdMs))
            return;
        void (async () => {
            const folders = currentWorkspaceFolders();
            for (const file of remembered.report.files) {
                const filePath = displayPathToAbsolutePath(file.displayPath, folders);
                if (filePath === undefined)
                    continue;
                try {
                    if ((await stat(filePath)).mtimeMs > createdMs)
                        tracker.fileChanged(filePath);
                } catch {
                    tracker.fileDeleted(filePath);
                }
            }
        })();
    }

    private async rememberReport(report: CacheReport | undefined, config: Config): Promise<void> {
        // Workspace state is meant for small values: a huge workspace's report is not kept.
        const value: RememberedReport | undefined = report === undefined || report.files.length + report.skipped.length > maxRememberedFiles
            ? undefined
            : {settingsKey: settingsKey(config), report};
        await this.context.workspaceState.update(rememberedReportKey, value);
    }

    private refuseWhileAnswering(controller: ChatController): boolean {
        if (!controller.isAnswering)
            return false;
        void vscode.window.showInformationMessage(vscode.l10n.t("KV-Distill is still answering. Stop the answer (Escape in the chat) or wait for it, then ask again."));
        return true;
    }

    /** The editor's dialogs for "KV-Distill: Build GPU Backend". */
    private gpuBackendBuildUi(): GpuBackendBuildUi {
        const log = this.log;
        const showLog = vscode.l10n.t("Show Log");
        return {
            pickBackend: async (choices) => {
                const picked = await vscode.window.showQuickPick(
                    choices.map((choice) => ({label: `${choice.ready ? "$(check)" : "$(error)"} ${choice.label}`, detail: choice.detail, choice})),
                    {title: vscode.l10n.t("KV-Distill: Build GPU Backend"), placeHolder: vscode.l10n.t("The GPU backend to build (a backend whose tools are missing says which)")}
                );
                return picked?.choice;
            },
            confirm: async (message, detail, agree) => await vscode.window.showInformationMessage(message, {modal: true, detail}, agree) === agree,
            withProgress: async (title, task) => await vscode.window.withProgress(
                {location: vscode.ProgressLocation.Notification, title, cancellable: true},
                async (progress, token) => {
                    const operation = new AbortController();
                    const cancellation = token.onCancellationRequested(() => operation.abort());
                    let reported = 0;
                    try {
                        return await task((message, percent) => {
                            const increment = percent === undefined ? undefined : Math.max(0, percent - reported);
                            if (percent !== undefined)
                                reported = Math.max(reported, percent);
                            progress.report({message: percent === undefined ? message : `${message} ${percent}%`, increment});
                        }, operation.signal);
                    } finally {
                        cancellation.dispose();
                    }
                }
            ),
            showInformation: (message) => void vscode.window.showInformationMessage(message),
            showError: (message) => void vscode.window.showErrorMessage(message, showLog).then((answer) => {
                if (answer === showLog)
                    log.show();
            })
        };
    }

    private createEngine(config: Config): EngineClientApi {
        const create = this.dependencies.createEngineClient;
        if (create === undefined)
            throw new EngineUnavailableError();
        if (this.engine === undefined) {
            this.engine = create({
                extensionPath: this.context.extensionUri.fsPath,
                globalStoragePath: this.context.globalStorageUri.fsPath,
                log: this.log,
                engineSettings: () => ({
                    idleUnloadMinutes: config.settings.idleUnloadMinutes,
                    cacheMaxBytes: config.settings.cacheMaxMegabytes * 1024 * 1024,
                    gpu: config.settings.gpu
                })
            });
            this.log.info("Engine client created");
        }
        return this.engine;
    }

    private cacheDir(): string | undefined {
        const storage = this.context.storageUri;
        return storage === undefined ? undefined : path.join(storage.fsPath, "caches");
    }

    private async openFileReference(reference: string): Promise<void> {
        const resolution = await resolveWorkspaceFileReference(reference, currentWorkspaceFolders(), nodeFileSystemProbe);
        if (!resolution.ok) {
            this.log.warn(`File link refused (${resolution.reason}): ${reference}`);
            void vscode.window.showWarningMessage(vscode.l10n.t("KV-Distill opens only files inside this workspace; {0} is not one.", reference));
            return;
        }
        const file = resolution.file;
        const position = new vscode.Position(Math.max(0, (file.line ?? 1) - 1), Math.max(0, (file.column ?? 1) - 1));
        await vscode.window.showTextDocument(vscode.Uri.file(file.absolutePath), {selection: new vscode.Range(position, position), preview: true});
        this.log.info(`Opened file link ${file.displayPath}${file.line === undefined ? "" : `:${file.line}`}`);
    }

    private async probeBackend(): Promise<BackendState> {
        const cliPath = vscode.Uri.joinPath(this.context.extensionUri, "dist", "cli.js").fsPath;
        try {
            const report = await probeBackend(cliPath);
            const description = `llama.cpp ${report.llamaCppRelease} (${report.buildType} build, ${report.gpu === false ? "CPU" : report.gpu}) via node-llama-cpp ${report.nodeLlamaCppVersion}`;
            this.log.info(`Backend found: ${description}`);
            // The report's own `description` (patched or degraded build) must not replace this line.
            return {kind: "found", ...report, description};
        } catch (error) {
            this.log.error("No usable llama.cpp backend", error);
            return {kind: "missing", reason: error instanceof Error ? error.message : String(error)};
        }
    }
}

function settingsKey(config: Config): string {
    const settings = config.settings;
    return JSON.stringify([settings.model.value, settings.keepRatio, settings.scorer, settings.segmentTokens, settings.maxFileBytes, settings.extraExcludes]);
}

function localizedChatStrings(): ChatStrings {
    const strings = {} as ChatStrings;
    for (const [key, value] of Object.entries(chatStringsEnglish) as Array<[keyof ChatStrings, string]>)
        strings[key] = vscode.l10n.t(value);
    return strings;
}

function describeSelection(editor: vscode.TextEditor): SelectionToExplain {
    const document = editor.document;
    const selection = editor.selection;
    const endLine = selection.end.character === 0 && selection.end.line > selection.start.line ? selection.end.line : selection.end.line + 1;
    return {
        displayPath: absolutePathToDisplayPath(document.uri.fsPath, currentWorkspaceFolders()) ?? vscode.workspace.asRelativePath(document.uri),
        startLine: selection.start.line + 1,
        endLine,
        languageId: document.languageId,
        text: document.getText(selection)
    };
}
