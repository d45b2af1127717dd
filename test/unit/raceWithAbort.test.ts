import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import {raceWithAbort} from "../../src/common/raceWithAbort";

describe("raceWithAbort", () => {
    const abortError = (): Error => new Error("cancelled by the caller");

    it("settles with the work when nothing aborts", async () => {
        assert.equal(await raceWithAbort(Promise.resolve(42), new AbortController().signal, abortError), 42);
        assert.equal(await raceWithAbort(Promise.resolve("no signal"), undefined, abortError), "no signal");
    });

    it("answers at once on abort while the work still runs", async () => {
        const controller = new AbortController();
        const never = new Promise<number>(() => undefined);
        const raced = raceWithAbort(never, controller.signal, abortError);
        controller.abort();
        await assert.rejects(raced, /cancelled by the caller/);
    });

    it("rejects at once when the signal was already aborted", async () => {
        const controller = new AbortController();
        controller.abort();
        await assert.rejects(raceWithAbort(Promise.resolve(1), controller.signal, abortError), /cancelled by the caller/);
    });

    it("passes the work's own error through and wraps a non-error rejection", async () => {
        await assert.rejects(raceWithAbort(Promise.reject(new TypeError("bad")), new AbortController().signal, abortError), TypeError);
        await assert.rejects(raceWithAbort(Promise.reject("plain string"), new AbortController().signal, abortError), (error: unknown) => error instanceof Error && error.message === "plain string");
    });
});
