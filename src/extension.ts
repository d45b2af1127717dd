import * as path from "node:path";
import type * as vscode from "vscode";
import {EngineClient} from "./engine/EngineClient";
import {KvDistillExtension} from "./extension/KvDistillExtension";
import type {EngineClientContext, KvDistillDependencies} from "./extension/extensionDependencies";

let extension: KvDistillExtension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    extension = await KvDistillExtension.activate(context, createDependencies(context));
}

export async function deactivate(): Promise<void> {
    await extension?.dispose();
    extension = undefined;
}

/**
 * Wires the engine child process (dist/engine.js, shared by every window of this user) and the
 * model downloader, which runs inside that engine, into the editor side.
 */
function createDependencies(context: vscode.ExtensionContext): KvDistillDependencies {
    let client: EngineClient | undefined;
    const getClient = (clientContext: Pick<EngineClientContext, "extensionPath" | "log" | "engineSettings">): EngineClient => {
        client ??= new EngineClient({
            enginePath: path.join(clientContext.extensionPath, "dist", "engine.js"),
            clientName: "vscode",
            logger: clientContext.log,
            modelIdleUnloadMs: clientContext.engineSettings().idleUnloadMinutes * 60_000,
            gpu: clientContext.engineSettings().gpu ?? "auto"
        });
        return client;
    };
    let lastClientContext: EngineClientContext | undefined;
    return {
        createEngineClient: (clientContext) => {
            lastClientContext = clientContext;
            return getClient(clientContext);
        },
        downloadModel: async (uri, options) => {
            const clientContext = lastClientContext ?? {
                extensionPath: context.extensionPath,
                log: {info: () => undefined, warn: () => undefined, error: () => undefined},
                engineSettings: () => ({idleUnloadMinutes: 10, cacheMaxBytes: 0})
            };
            const result = await getClient(clientContext).downloadModel(
                {uri, directory: path.join(context.globalStorageUri.fsPath, "models"), consent: options.consent},
                {
                    ...(options.signal === undefined ? {} : {signal: options.signal}),
                    ...(options.onProgress === undefined ? {} : {onProgress: (progress) => options.onProgress?.({downloadedBytes: progress.downloadedBytes, totalBytes: progress.totalBytes > 0 ? progress.totalBytes : undefined})})
                }
            );
            return result.modelPath;
        }
    };
}
