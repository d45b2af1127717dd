import type * as vscode from "vscode";
import {KvDistillExtension} from "./extension/KvDistillExtension";
import type {KvDistillDependencies} from "./extension/extensionDependencies";

let extension: KvDistillExtension | undefined;

/**
 * What the editor side gets from the rest of the product. The engine client
 * (src/engine/EngineClient.ts) and the model downloader are wired here; without them the
 * extension still activates and says that the engine is missing.
 */
const dependencies: KvDistillDependencies = {};

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    extension = await KvDistillExtension.activate(context, dependencies);
}

export async function deactivate(): Promise<void> {
    await extension?.dispose();
    extension = undefined;
}
