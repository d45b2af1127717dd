// Which value of kvDistill.model.path counts. A workspace must not choose which model file the
// engine loads unless the user trusts it, so workspace and folder values count only then.
// Pure: takes what WorkspaceConfiguration.inspect() returns.

export type SettingInspection<T> = {
    defaultValue?: T;
    globalValue?: T;
    workspaceValue?: T;
    workspaceFolderValue?: T;
};

export type TrustedModelPath = {
    /** The model path or "hf:" URI to use; "" when none is set. */
    value: string;
    source: "default" | "user" | "workspace" | "workspaceFolder";
    /** A workspace or folder value was present but ignored because the workspace is not trusted. */
    ignoredUntrustedValue: boolean;
};

function usable(value: unknown): value is string {
    return typeof value === "string" && value.trim() !== "";
}

export function selectTrustedModelPath(inspection: SettingInspection<unknown> | undefined, workspaceTrusted: boolean): TrustedModelPath {
    const workspaceFolderValue = inspection?.workspaceFolderValue;
    const workspaceValue = inspection?.workspaceValue;
    const hasWorkspaceValue = usable(workspaceFolderValue) || usable(workspaceValue);
    if (workspaceTrusted) {
        if (usable(workspaceFolderValue))
            return {value: workspaceFolderValue.trim(), source: "workspaceFolder", ignoredUntrustedValue: false};
        if (usable(workspaceValue))
            return {value: workspaceValue.trim(), source: "workspace", ignoredUntrustedValue: false};
    }
    if (usable(inspection?.globalValue))
        return {value: (inspection.globalValue as string).trim(), source: "user", ignoredUntrustedValue: !workspaceTrusted && hasWorkspaceValue};
    if (usable(inspection?.defaultValue))
        return {value: (inspection.defaultValue as string).trim(), source: "default", ignoredUntrustedValue: !workspaceTrusted && hasWorkspaceValue};
    return {value: "", source: "default", ignoredUntrustedValue: !workspaceTrusted && hasWorkspaceValue};
}
