// The message protocol between engine clients (extension, command line) and the engine process.
// Newline-delimited JSON over a local socket: one message per line; JSON.stringify never emits a raw
// newline, so a line break always ends a message. Pure: imported by both sides and unit-tested.
import {StringDecoder} from "node:string_decoder";
import type {
    AskOptions,
    AskResult,
    CacheReport,
    ChatTurn,
    DistillOptions,
    DistillProgress,
    DistillResult,
    ModelDownloadOptions,
    ModelDownloadProgress,
    ModelDownloadResult
} from "./engineApi";
import {EngineOperationError, EngineProtocolError} from "./engineProcessErrors";
import {isScorerName} from "./scorerNames";
import {isOutlineDetail} from "../indexer/workspaceOutline";

/** Bumped on any incompatible change; engines of different versions use different sockets. */
export const ENGINE_PROTOCOL_VERSION = 1;

/** A line longer than this is refused: no legitimate message comes near it. */
export const MAX_ENGINE_MESSAGE_BYTES = 64 * 1024 * 1024;

export type EngineServerState =
    | {kind: "ready"; modelLoaded: boolean; modelPath?: string}
    | {kind: "busy"; operation: EngineMethod; modelPath?: string; queued: number};

export type EngineHelloParams = {
    protocolVersion: number;
    clientName: string;
    clientPid: number;
    /** Unload the model after this long without model work (applies to the whole engine). */
    modelIdleUnloadMs?: number;
};

export type EngineHelloResult = {
    protocolVersion: number;
    pid: number;
    /** Modification time of the engine's script; a client with a newer script asks it to retire. */
    buildStamp: number;
    startedAt: string;
    clients: number;
    state: EngineServerState;
};

export type EngineMethodMap = {
    /** First message of every connection; sent again later it only updates the settings it carries. */
    hello: {params: EngineHelloParams; result: EngineHelloResult};
    ping: {params: Record<string, never>; result: {pid: number; uptimeMs: number}};
    distill: {params: DistillOptions; result: DistillResult & {report: CacheReport}};
    ask: {params: AskOptions; result: AskResult};
    /** JSON has no undefined: null when no cache is saved. */
    getCacheReport: {params: DistillOptions; result: CacheReport | null};
    clearCache: {params: Pick<DistillOptions, "folders" | "cacheDir">; result: null};
    unloadModel: {params: Record<string, never>; result: null};
    downloadModel: {params: ModelDownloadOptions; result: ModelDownloadResult};
    /** Stop taking work, finish what is running, then exit (newer build, tests, "restart engine"). */
    shutdown: {params: {reason: string}; result: null};
};

export type EngineMethod = keyof EngineMethodMap;
export type EngineParams<M extends EngineMethod> = EngineMethodMap[M]["params"];
export type EngineResult<M extends EngineMethod> = EngineMethodMap[M]["result"];

export const engineMethods: readonly EngineMethod[] = ["hello", "ping", "distill", "ask", "getCacheReport", "clearCache", "unloadModel", "downloadModel", "shutdown"];

// ---- Client -> engine ----

export type EngineRequestMessage = {
    [M in EngineMethod]: {type: "request"; id: number; method: M; params: EngineParams<M>};
}[EngineMethod];

export type EngineCancelMessage = {type: "cancel"; id: number};

export type EngineClientMessage = EngineRequestMessage | EngineCancelMessage;

// ---- Engine -> client ----

/** An error as it crosses the process boundary, with its cause chain and the offending file. */
export type SerializedEngineError = {
    name: string;
    message: string;
    stack?: string;
    file?: string;
    /** JSON-safe own fields of the error (sizeBytes, uri, code...), restored on the client. */
    data?: Record<string, string | number | boolean | null>;
    cause?: SerializedEngineError;
};

export type EngineResponseMessage =
    | {type: "response"; id: number; ok: true; result: unknown}
    | {type: "response"; id: number; ok: false; error: SerializedEngineError};

export type EngineProgressMessage = {type: "progress"; id: number; progress: DistillProgress};
export type EngineDownloadProgressMessage = {type: "downloadProgress"; id: number; progress: ModelDownloadProgress};
export type EngineTokenMessage = {type: "token"; id: number; text: string};
export type EngineStateMessage = {type: "state"; state: EngineServerState};
export type EngineLogMessage = {type: "log"; level: "info" | "warn" | "error"; message: string};
export type EngineGoodbyeReason = "idle-exit" | "shutdown-requested" | "replaced" | "signal" | "fatal-error";
/** Sent to every client right before an orderly exit, so that closing the socket is not a crash. */
export type EngineGoodbyeMessage = {type: "goodbye"; reason: EngineGoodbyeReason; message: string};

export type EngineServerMessage =
    | EngineResponseMessage
    | EngineProgressMessage
    | EngineDownloadProgressMessage
    | EngineTokenMessage
    | EngineStateMessage
    | EngineLogMessage
    | EngineGoodbyeMessage;

// ---- Framing ----

export function encodeEngineMessage(message: EngineClientMessage | EngineServerMessage): string {
    return JSON.stringify(message) + "\n";
}

/** Splits a byte stream into parsed JSON values, one per line; keeps partial lines and UTF-8 sequences. */
export class EngineMessageDecoder {
    private readonly textDecoder = new StringDecoder("utf8");
    private pending = "";

    /** Returns the complete messages in this chunk; throws EngineProtocolError on a bad or oversized line. */
    public push(chunk: Buffer | string): unknown[] {
        this.pending += typeof chunk === "string" ? chunk : this.textDecoder.write(chunk);
        const values: unknown[] = [];
        let newline = this.pending.indexOf("\n");
        while (newline !== -1) {
            const line = this.pending.slice(0, newline);
            this.pending = this.pending.slice(newline + 1);
            if (line.trim() !== "")
                values.push(parseLine(line));
            newline = this.pending.indexOf("\n");
        }
        if (this.pending.length > MAX_ENGINE_MESSAGE_BYTES)
            throw new EngineProtocolError(`A message is longer than ${MAX_ENGINE_MESSAGE_BYTES} bytes`);
        return values;
    }

    /** True when a message has started but not ended (the peer closed mid-message). */
    public get hasPartialMessage(): boolean {
        return this.pending.trim() !== "";
    }
}

function parseLine(line: string): unknown {
    if (line.length > MAX_ENGINE_MESSAGE_BYTES)
        throw new EngineProtocolError(`A message is longer than ${MAX_ENGINE_MESSAGE_BYTES} bytes`);
    try {
        return JSON.parse(line) as unknown;
    } catch (error) {
        throw new EngineProtocolError(`A message is not valid JSON: ${line.slice(0, 80)}`, {cause: error});
    }
}

// ---- Type guards ----

type Guard<T> = (value: unknown) => value is T;

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): value is number {
    return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isFiniteNumber(value: unknown): value is number {
    return typeof value === "number" && Number.isFinite(value);
}

function isOptional<T>(value: unknown, guard: Guard<T>): boolean {
    return value === undefined || guard(value);
}

function isBoolean(value: unknown): value is boolean {
    return typeof value === "boolean";
}

function isString(value: unknown): value is string {
    return typeof value === "string";
}

function isStringArray(value: unknown): value is string[] {
    return Array.isArray(value) && value.every(isString);
}


export function isDistillOptions(value: unknown): value is DistillOptions {
    if (!isRecord(value))
        return false;
    return isString(value.modelPath)
        && isStringArray(value.folders)
        && isFiniteNumber(value.keepRatio) && value.keepRatio > 0 && value.keepRatio <= 1
        && isString(value.scorer) && isScorerName(value.scorer)
        && isFiniteNumber(value.segmentTokens) && value.segmentTokens >= 0
        && isString(value.cacheDir)
        && isOptional(value.extraExcludes, isStringArray)
        && isOptional(value.filesExclude, isStringArray)
        && isOptional(value.maxFileBytes, isFiniteNumber)
        && isOptional(value.workspaceOutline, isBoolean)
        && isOptional(value.outlineDetail, isOutlineDetail)
        && isOptional(value.seed, isFiniteNumber)
        && isOptional(value.compaction, (mode): mode is string => mode === "holes" || mode === "renumber")
        && isOptional(value.adapterPath, isString)
        && isOptional(value.cacheSizeCapBytes, (bytes): bytes is number => isFiniteNumber(bytes) && bytes > 0);
}

function isChatTurn(value: unknown): value is ChatTurn {
    return isRecord(value) && (value.role === "user" || value.role === "assistant") && isString(value.text);
}

export function isAskOptions(value: unknown): value is AskOptions {
    return isDistillOptions(value)
        && isString((value as Record<string, unknown>).question)
        && isOptional((value as Record<string, unknown>).history, (history): history is ChatTurn[] => Array.isArray(history) && history.every(isChatTurn))
        && isOptional((value as Record<string, unknown>).maxAnswerTokens, isFiniteNumber);
}

function isClearCacheParams(value: unknown): value is Pick<DistillOptions, "folders" | "cacheDir"> {
    return isRecord(value) && isStringArray(value.folders) && isString(value.cacheDir);
}

function isEmptyParams(value: unknown): value is Record<string, never> {
    return isRecord(value);
}

function isHelloParams(value: unknown): value is EngineHelloParams {
    return isRecord(value)
        && isFiniteNumber(value.protocolVersion)
        && isString(value.clientName)
        && isFiniteNumber(value.clientPid)
        && isOptional(value.modelIdleUnloadMs, (ms): ms is number => isFiniteNumber(ms) && ms >= 0);
}

export function isModelDownloadOptions(value: unknown): value is ModelDownloadOptions {
    return isRecord(value)
        && isString(value.uri)
        && isString(value.directory)
        && typeof value.consent === "boolean"
        && isOptional(value.expectedSha256, isString)
        && isOptional(value.huggingFaceEndpoint, isString);
}

function isShutdownParams(value: unknown): value is {reason: string} {
    return isRecord(value) && isString(value.reason);
}

/** Checks the parameters of each method, so the engine never runs work on malformed input. */
export const engineParamsGuards: {[M in EngineMethod]: Guard<EngineParams<M>>} = {
    hello: isHelloParams,
    ping: isEmptyParams,
    distill: isDistillOptions,
    ask: isAskOptions,
    getCacheReport: isDistillOptions,
    clearCache: isClearCacheParams,
    unloadModel: isEmptyParams,
    downloadModel: isModelDownloadOptions,
    shutdown: isShutdownParams
};

export function isEngineMethod(value: unknown): value is EngineMethod {
    return isString(value) && (engineMethods as readonly string[]).includes(value);
}

/** A request envelope with a known method (its parameters are checked by engineParamsGuards). */
export function isEngineRequestEnvelope(value: unknown): value is {type: "request"; id: number; method: EngineMethod; params: unknown} {
    return isRecord(value) && value.type === "request" && isRequestId(value.id) && isEngineMethod(value.method) && "params" in value;
}

export function isEngineRequestMessage(value: unknown): value is EngineRequestMessage {
    return isEngineRequestEnvelope(value) && (engineParamsGuards[value.method] as Guard<unknown>)(value.params);
}

export function isEngineCancelMessage(value: unknown): value is EngineCancelMessage {
    return isRecord(value) && value.type === "cancel" && isRequestId(value.id);
}

export function isEngineClientMessage(value: unknown): value is EngineClientMessage {
    return isEngineRequestMessage(value) || isEngineCancelMessage(value);
}

export function isSerializedEngineError(value: unknown, depth = 0): value is SerializedEngineError {
    if (!isRecord(value) || depth > maxCauseDepth + 1)
        return false;
    return isString(value.name)
        && isString(value.message)
        && isOptional(value.stack, isString)
        && isOptional(value.file, isString)
        && isOptional(value.data, (data): data is Record<string, unknown> => isRecord(data) && Object.values(data).every(isJsonScalar))
        && (value.cause === undefined || isSerializedEngineError(value.cause, depth + 1));
}

export function isEngineResponseMessage(value: unknown): value is EngineResponseMessage {
    if (!isRecord(value) || value.type !== "response" || !isRequestId(value.id))
        return false;
    if (value.ok === true)
        return "result" in value;
    return value.ok === false && isSerializedEngineError(value.error);
}

export function isDistillProgress(value: unknown): value is DistillProgress {
    return isRecord(value)
        && isString(value.phase) && ["loading-model", "indexing", "tokenizing", "prefilling", "saving"].includes(value.phase)
        && isFiniteNumber(value.doneTokens)
        && isFiniteNumber(value.totalTokens)
        && isOptional(value.tokensPerSecond, isFiniteNumber)
        && isOptional(value.etaSeconds, isFiniteNumber)
        && isOptional(value.message, isString);
}

export function isModelDownloadProgress(value: unknown): value is ModelDownloadProgress {
    return isRecord(value)
        && isFiniteNumber(value.downloadedBytes)
        && isFiniteNumber(value.totalBytes)
        && isOptional(value.bytesPerSecond, isFiniteNumber)
        && isOptional(value.etaSeconds, isFiniteNumber);
}

export function isEngineServerState(value: unknown): value is EngineServerState {
    if (!isRecord(value))
        return false;
    if (value.kind === "ready")
        return typeof value.modelLoaded === "boolean" && isOptional(value.modelPath, isString);
    return value.kind === "busy" && isEngineMethod(value.operation) && isOptional(value.modelPath, isString) && isFiniteNumber(value.queued);
}

const goodbyeReasons: readonly EngineGoodbyeReason[] = ["idle-exit", "shutdown-requested", "replaced", "signal", "fatal-error"];

export function isEngineServerMessage(value: unknown): value is EngineServerMessage {
    if (!isRecord(value))
        return false;
    switch (value.type) {
        case "response":
            return isEngineResponseMessage(value);
        case "progress":
            return isRequestId(value.id) && isDistillProgress(value.progress);
        case "downloadProgress":
            return isRequestId(value.id) && isModelDownloadProgress(value.progress);
        case "token":
            return isRequestId(value.id) && isString(value.text);
        case "state":
            return isEngineServerState(value.state);
        case "log":
            return (value.level === "info" || value.level === "warn" || value.level === "error") && isString(value.message);
        case "goodbye":
            return isString(value.reason) && (goodbyeReasons as readonly string[]).includes(value.reason) && isString(value.message);
        default:
            return false;
    }
}

/** Result checks on the client side: the shape every method's result must have. */
export const engineResultGuards: {[M in EngineMethod]: Guard<EngineResult<M>>} = {
    hello: (value): value is EngineHelloResult => isRecord(value) && isFiniteNumber(value.protocolVersion) && isFiniteNumber(value.pid)
        && isFiniteNumber(value.buildStamp) && isString(value.startedAt) && isFiniteNumber(value.clients) && isEngineServerState(value.state),
    ping: (value): value is {pid: number; uptimeMs: number} => isRecord(value) && isFiniteNumber(value.pid) && isFiniteNumber(value.uptimeMs),
    distill: (value): value is DistillResult & {report: CacheReport} => isRecord(value) && isString(value.cacheId) && isRecord(value.report),
    ask: (value): value is AskResult => isRecord(value) && isString(value.answer) && isRecord(value.distill),
    getCacheReport: (value): value is CacheReport | null => value === null || (isRecord(value) && Array.isArray(value.files)),
    clearCache: (value): value is null => value === null,
    unloadModel: (value): value is null => value === null,
    downloadModel: (value): value is ModelDownloadResult => isRecord(value) && isString(value.modelPath) && isFiniteNumber(value.sizeBytes) && isRecord(value.metadata),
    shutdown: (value): value is null => value === null
};

// ---- Errors across the boundary ----

const maxCauseDepth = 8;

function isJsonScalar(value: unknown): value is string | number | boolean | null {
    return value === null || typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));
}

/** Turns anything thrown into a SerializedEngineError, keeping the cause chain and the offending file. */
export function serializeEngineError(error: unknown, depth = 0): SerializedEngineError {
    if (!(error instanceof Error))
        return {name: "Error", message: typeof error === "string" ? error : safeStringify(error)};
    const serialized: SerializedEngineError = {name: error.name, message: error.message};
    if (error.stack !== undefined)
        serialized.stack = error.stack;
    const data: Record<string, string | number | boolean | null> = {};
    for (const [key, value] of Object.entries(error)) {
        if (key === "name" || key === "message" || key === "stack" || key === "cause")
            continue;
        if (isJsonScalar(value))
            data[key] = value;
    }
    // Node's fs errors name the file in `path`; the project's errors in `file`.
    const file = [data.file, data.filePath, data.path].find(isString);
    if (file !== undefined)
        serialized.file = file;
    if (Object.keys(data).length > 0)
        serialized.data = data;
    if (error.cause !== undefined && depth < maxCauseDepth)
        serialized.cause = serializeEngineError(error.cause, depth + 1);
    return serialized;
}

function safeStringify(value: unknown): string {
    try {
        return JSON.stringify(value) ?? String(value);
    } catch {
        return String(value);
    }
}

/** An error class the client can rebuild by name; its fields are restored from `data`. */
export type RevivableErrorClass = abstract new (...args: never[]) => Error;

/**
 * Rebuilds a serialized error: as the class of the same name when it is in `knownClasses` (without
 * running its constructor: the fields come from `data`), else as an EngineOperationError that keeps
 * the remote class name. The engine's stack is kept below the local one.
 */
export function reviveEngineError(serialized: SerializedEngineError, knownClasses: readonly RevivableErrorClass[]): Error {
    const cause = serialized.cause === undefined ? undefined : reviveEngineError(serialized.cause, knownClasses);
    const known = knownClasses.find((candidate) => candidate.name === serialized.name);
    let error: Error;
    if (known === undefined) {
        error = new EngineOperationError(serialized.message, serialized.name, serialized.file, cause === undefined ? undefined : {cause});
    } else {
        error = Object.create(known.prototype as object) as Error;
        Object.assign(error, serialized.data ?? {});
        Object.defineProperty(error, "message", {value: serialized.message, writable: true, configurable: true, enumerable: false});
        Object.defineProperty(error, "name", {value: serialized.name, writable: true, configurable: true, enumerable: false});
        if (cause !== undefined)
            Object.defineProperty(error, "cause", {value: cause, writable: true, configurable: true, enumerable: false});
    }
    const remoteStack = serialized.stack ?? `${serialized.name}: ${serialized.message}`;
    Object.defineProperty(error, "stack", {value: `${remoteStack}\n    (in the engine process)`, writable: true, configurable: true, enumerable: false});
    return error;
}
