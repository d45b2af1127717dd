/**
 * Fills `{0}`, `{1}`... the way vscode.l10n.t does, for pure modules that take a translator
 * function and default to English.
 */
export function formatMessage(template: string, ...args: Array<string | number | boolean>): string {
    return template.replace(/\{(\d+)\}/g, (match, index: string) => {
        const value = args[Number(index)];
        return value === undefined ? match : String(value);
    });
}

/** The shape of vscode.l10n.t's positional form, so pure modules can be handed either. */
export type Translate = (message: string, ...args: Array<string | number | boolean>) => string;
