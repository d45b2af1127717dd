import type {Page} from "playwright-core";
import {EditorTimeoutError} from "./e2eErrors";

/**
 * Runs a command by its palette title (e.g. "KV-Distill: Show Log"). Right after start the
 * palette can answer "No matching commands" until the extension host has scanned the
 * extensions, so it closes the palette and tries again until `timeoutMs`.
 */
export async function runCommandFromPalette(page: Page, commandTitle: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const input = page.locator(".quick-input-widget input.input");
    let attempts = 0;
    while (Date.now() < deadline) {
        attempts++;
        await page.keyboard.press("Escape");
        await page.keyboard.press("F1");
        try {
            await input.waitFor({state: "visible", timeout: 5_000});
            await input.fill(`>${commandTitle}`);
            const row = page.locator(".quick-input-list .monaco-list-row", {has: page.locator(".label-name", {hasText: commandTitle})}).first();
            await row.waitFor({state: "visible", timeout: 3_000});
            await row.click();
            await input.waitFor({state: "hidden", timeout: 5_000});
            return;
        } catch {
            // Not offered yet (or the palette did not open): close and retry.
            await page.waitForTimeout(1_000);
        }
    }
    throw new EditorTimeoutError(`command "${commandTitle}" was not offered by the command palette within ${timeoutMs} ms (${attempts} attempts)`);
}
