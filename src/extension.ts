import type * as vscode from "vscode";
import {KvDistillExtension} from "./extension/KvDistillExtension";

let extension: KvDistillExtension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    extension = await KvDistillExtension.activate(context);
}

export async function deactivate(): Promise<void> {
    await extension?.dispose();
    extension = undefined;
}
