// A loopback-only stand-in for the Hugging Face endpoints node-llama-cpp's downloader calls:
// GET /v2/<user>/<repo>/manifests/<tag> (which file a tag means) and
// GET|HEAD /<user>/<repo>/resolve/main/<file> (the file, with Range support). It records every
// request, can cut one range response mid-way, and can stall range responses after their headers to stage an interruption.
import * as http from "node:http";
import type {AddressInfo} from "node:net";

export type LocalModelRequest = {method: string; path: string; rangeStart?: number; rangeEnd?: number; bytesSent: number};

export class LocalModelServer {
    public readonly requests: LocalModelRequest[] = [];
    /** Cut the next range response after this many body bytes (once). */
    public cutNextRangeAfterBytes: number | undefined;
    public cuts = 0;
    /** Range responses starting after byte 0 send their headers and then stall while this is true. */
    public holdRangesAfterStart = false;
    private readonly files = new Map<string, Buffer>();
    private readonly manifests = new Map<string, string>();
    private readonly held: Array<() => void> = [];
    private readonly server = http.createServer((request, response) => this.handle(request, response));

    public get endpoint(): string {
        const address = this.server.address() as AddressInfo;
        return `http://127.0.0.1:${address.port}/`;
    }

    public async start(): Promise<void> {
        await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    }

    /** Serves `bytes` as hf:<user>/<repo>/<file>; `tag` also makes hf:<user>/<repo>:<tag> resolve to it. */
    public addModel(user: string, repo: string, file: string, bytes: Buffer, tag?: string): void {
        this.files.set(`/${user}/${repo}/resolve/main/${file}`, bytes);
        if (tag !== undefined)
            this.manifests.set(`/v2/${user}/${repo}/manifests/${tag}`, file);
    }

    public releaseHeld(): void {
        this.holdRangesAfterStart = false;
        for (const release of this.held.splice(0))
            release();
    }

    public rangeRequests(): LocalModelRequest[] {
        return this.requests.filter((request) => request.rangeStart !== undefined);
    }

    public async close(): Promise<void> {
        this.releaseHeld();
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }

    private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
        const url = new URL(request.url ?? "/", "http://127.0.0.1");
        const record: LocalModelRequest = {method: request.method ?? "GET", path: url.pathname, bytesSent: 0};
        this.requests.push(record);
        const manifestFile = this.manifests.get(url.pathname);
        if (manifestFile !== undefined) {
            const bytes = this.files.get(`${url.pathname.replace(/^\/v2/, "").replace(/\/manifests\/.*$/, "")}/resolve/main/${manifestFile}`);
            response.writeHead(200, {"content-type": "application/json"});
            response.end(JSON.stringify({ggufFile: {rfilename: manifestFile, size: bytes?.length}}));
            return;
        }
        const bytes = this.files.get(url.pathname);
        if (bytes === undefined) {
            response.writeHead(404, {"content-type": "text/plain"});
            response.end("not found");
            return;
        }
        const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
        if (range === null) {
            response.writeHead(200, {"content-length": bytes.length, "accept-ranges": "bytes", "content-type": "application/octet-stream"});
            if (request.method === "HEAD")
                response.end();
            else
                this.stream(response, bytes, 0, bytes.length, record, false);
            return;
        }
        const start = Number(range[1]);
        const end = range[2] === "" ? bytes.length - 1 : Math.min(Number(range[2]), bytes.length - 1);
        record.rangeStart = start;
        record.rangeEnd = end;
        if (start >= bytes.length || end < start) {
            response.writeHead(416, {"content-range": `bytes */${bytes.length}`});
            response.end();
            return;
        }
        response.writeHead(206, {"content-length": end - start + 1, "content-range": `bytes ${start}-${end}/${bytes.length}`, "accept-ranges": "bytes", "content-type": "application/octet-stream"});
        const serve = (): void => {
            if (!response.destroyed)
                this.stream(response, bytes, start, end + 1, record, true);
        };
        // A held response has its headers but no body yet, like a stalled connection.
        if (this.holdRangesAfterStart && start > 0) {
            response.flushHeaders();
            this.held.push(serve);
        } else {
            serve();
        }
    }

    /** Writes in pieces, respecting back-pressure, so that a cut lands mid-body. */
    private stream(response: http.ServerResponse, bytes: Buffer, start: number, end: number, record: LocalModelRequest, isRange: boolean): void {
        let cutAt: number | undefined;
        if (isRange && this.cutNextRangeAfterBytes !== undefined && end - start > this.cutNextRangeAfterBytes) {
            cutAt = start + this.cutNextRangeAfterBytes;
            this.cutNextRangeAfterBytes = undefined;
        }
        let position = start;
        const pieceBytes = 64 * 1024;
        const writeMore = (): void => {
            while (position < end) {
                if (cutAt !== undefined && position >= cutAt) {
                    this.cuts++;
                    response.socket?.destroy();
                    return;
                }
                const pieceEnd = Math.min(end, position + pieceBytes, cutAt ?? end);
                const piece = bytes.subarray(position, pieceEnd);
                position = pieceEnd;
                record.bytesSent += piece.length;
                if (!response.write(piece)) {
                    response.once("drain", writeMore);
                    return;
                }
            }
            response.end();
        };
        response.on("close", () => response.off("drain", writeMore));
        writeMore();
    }
}
