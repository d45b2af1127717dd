// Messages between the overview webview and the extension. Imported by both sides.

export type BackendState =
    | {kind: "probing"}
    | {kind: "found"; description: string; buildType: string; gpu: string | false; llamaCppRelease: string; nodeLlamaCppVersion: string}
    | {kind: "missing"; reason: string};

export type OverviewState = {
    extensionVersion: string;
    backend: BackendState;
};

/** From the extension to the webview. */
export type OverviewNotification = {type: "state"; state: OverviewState};

/** From the webview to the extension. */
export type OverviewCommand = {type: "ready"} | {type: "showLog"};

export function isOverviewCommand(value: unknown): value is OverviewCommand {
    if (typeof value !== "object" || value === null)
        return false;
    const type = (value as {type?: unknown}).type;
    return type === "ready" || type === "showLog";
}

export function isOverviewNotification(value: unknown): value is OverviewNotification {
    if (typeof value !== "object" || value === null)
        return false;
    const message = value as {type?: unknown; state?: unknown};
    return message.type === "state" && typeof message.state === "object" && message.state !== null;
}
