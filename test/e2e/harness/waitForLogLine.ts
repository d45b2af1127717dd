import {readFile} from "node:fs/promises";
import {setTimeout as sleep} from "node:timers/promises";
import {EditorTimeoutError} from "./e2eErrors";

/**
 * Waits until the extension's mirrored log (KV_DISTILL_LOG_FILE) has a line matching `pattern`
 * and returns that line. The file is appended to as the extension logs.
 */
export async function waitForLogLine(logFile: string, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let lines: string[];
    for (;;) {
        lines = (await readFile(logFile, "utf8").catch(() => "")).split("\n");
        const match = lines.find((line) => pattern.test(line));
        if (match !== undefined)
            return match;
        if (Date.now() >= deadline)
            break;
        await sleep(200);
    }
    throw new EditorTimeoutError(`no line matching ${pattern} in ${logFile} within ${timeoutMs} ms; it has:\n${lines.join("\n").slice(-3000)}`);
}
