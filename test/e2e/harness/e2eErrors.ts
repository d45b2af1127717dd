import {KvDistillError} from "../../../src/common/errors";

/** Thrown when a tool the real-editor tests need (Node 24, code-server, Chromium, the VSIX) is missing. */
export class E2eSetupError extends KvDistillError {}

/** Thrown when code-server or the workbench does not reach the expected state in time. */
export class EditorTimeoutError extends KvDistillError {}
