// The one module that reads VS Code configuration: typed settings over getConfiguration, kept
// current through onDidChangeConfiguration and workspace-trust changes.
import * as vscode from "vscode";
import {enabledExcludeGlobs, parseKvDistillSettings, settingKeys, type KvDistillSettings} from "./kvDistillSettings";
import {selectTrustedModelPath} from "./selectTrustedModelPath";

export const configurationSection = "kvDistill";

export type ConfigChange = {
    /** The model path (or the trust that decides which value counts) changed. */
    model: boolean;
    /** Something that changes which files are indexed: files.exclude, index settings. */
    indexRules: boolean;
    /** Keep ratio, scorer, segment size, compaction, adapter or the workspace outline: what the cache holds. */
    distill: boolean;
    /** Any other kvDistill setting. */
    other: boolean;
};

export class Config implements vscode.Disposable {
    private current: KvDistillSettings;
    private readonly changeEmitter = new vscode.EventEmitter<ConfigChange>();
    private readonly disposables: vscode.Disposable[] = [];
    public readonly onDidChange = this.changeEmitter.event;

    public constructor() {
        this.current = Config.read();
        this.disposables.push(
            this.changeEmitter,
            vscode.workspace.onDidChangeConfiguration((event) => {
                const affects = (key: string): boolean => event.affectsConfiguration(`${configurationSection}.${key}`);
                const change: ConfigChange = {
                    model: affects(settingKeys.modelPath),
                    indexRules: event.affectsConfiguration("files.exclude") || affects(settingKeys.maxFileBytes) || affects(settingKeys.extraExcludes),
                    distill: affects(settingKeys.keepRatio) || affects(settingKeys.scorer) || affects(settingKeys.segmentTokens) ||
                        affects(settingKeys.compaction) || affects(settingKeys.adapterPath) || affects(settingKeys.workspaceOutline) ||
                        affects(settingKeys.outlineDetail),
                    other: event.affectsConfiguration(configurationSection)
                };
                if (change.model || change.indexRules || change.distill || change.other) {
                    this.current = Config.read();
                    this.changeEmitter.fire(change);
                }
            }),
            vscode.workspace.onDidGrantWorkspaceTrust(() => {
                this.current = Config.read();
                this.changeEmitter.fire({model: true, indexRules: false, distill: true, other: false});
            })
        );
    }

    public get settings(): KvDistillSettings {
        return this.current;
    }

    /** files.exclude globs in force for a folder (or the workspace). */
    public filesExcludeGlobs(folder?: vscode.Uri): string[] {
        return enabledExcludeGlobs(vscode.workspace.getConfiguration("files", folder).get("exclude"));
    }

    /** Stores the model in the user's settings: a machine-level choice, never the workspace's. */
    public async setModelPath(value: string): Promise<void> {
        await vscode.workspace.getConfiguration(configurationSection).update(settingKeys.modelPath, value, vscode.ConfigurationTarget.Global);
        this.current = Config.read();
    }

    public dispose(): void {
        for (const disposable of this.disposables.splice(0))
            disposable.dispose();
    }

    private static read(): KvDistillSettings {
        const configuration = vscode.workspace.getConfiguration(configurationSection);
        const model = selectTrustedModelPath(configuration.inspect<unknown>(settingKeys.modelPath), vscode.workspace.isTrusted);
        // The adapter file decides which tokens are kept and is loaded into llama.cpp: the same trust rule as the model.
        const adapter = selectTrustedModelPath(configuration.inspect<unknown>(settingKeys.adapterPath), vscode.workspace.isTrusted);
        return parseKvDistillSettings((key) => configuration.get<unknown>(key), model, adapter);
    }
}
