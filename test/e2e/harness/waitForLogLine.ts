import {readFile} from "node:fs/promises";
import {setTimeout as sleep} from "node:timers/promises";
import {EditorTimeoutError} from "./e2eErrors";

/** The lines of the extension's mirrored log so far (empty before the extension writes it). */
export async function readLogLines(logFile: string): Promise<string[]> {
    const text = await readFile(logFile, "utf8").catch(() => "");
    return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}

/**
 * Waits until the extension's mirrored log (KV_DISTILL_LOG_FILE) has a line matching `pattern`
 * and returns that line. The file is appended to as the extension logs. `fromLine` skips the
 * lines logged before (a count from `readLogLines`), so a step waits for its own line.
 */
export async function waitForLogLine(logFile: string, pattern: RegExp, timeoutMs = 60_000, fromLine = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let lines: string[];
    for (;;) {
        lines = await readLogLines(logFile);
        const match = lines.slice(fromLine).find((line) => pattern.test(line));
        if (match !== undefined)
            return match;
        if (Date.now() >= deadline)
            break;
        await sleep(200);
    }
    throw new EditorTimeoutError(`no line matching ${pattern} in ${logFile} (from line ${fromLine + 1}) within ${timeoutMs} ms; it has:\n${lines.join("\n").slice(-3000)}`);
}
