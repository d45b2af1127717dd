import type {Page} from "playwright-core";

/** Opens an activity-bar view container by its title (e.g. "KV-Distill"), unless it is open. */
export async function openViewContainer(page: Page, title: string, timeoutMs = 30_000): Promise<void> {
    const item = page.locator(".part.activitybar .action-item", {has: page.locator(`.action-label[aria-label^="${title.replace(/"/g, "\\\"")}"]`)}).first();
    await item.waitFor({state: "visible", timeout: timeoutMs});
    if ((await item.getAttribute("class"))?.split(/\s+/).includes("checked") !== true)
        await item.click();
    await page.locator(".part.sidebar .composite.title", {hasText: title}).first().waitFor({state: "visible", timeout: timeoutMs});
}
