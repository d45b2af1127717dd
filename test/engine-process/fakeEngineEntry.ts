// The transport tests' engine entry: the real process code (runEngineProcess, EngineServer, the
// real downloader) with FakeEngineBackend in place of the Engine. Extra arguments:
// --fake-events FILE (required), --fake-step-ms N (default 50).
import {downloadModel} from "../../src/engine/modelDownloader";
import {parseEngineProcessArguments, runEngineProcess} from "../../src/engine/runEngineProcess";
import {FakeEngineBackend} from "./FakeEngineBackend";

function main(): void {
    const engineArguments = parseEngineProcessArguments(process.argv.slice(2));
    let eventsFile: string | undefined;
    let stepMs = 50;
    for (let index = 0; index < engineArguments.rest.length; index++) {
        if (engineArguments.rest[index] === "--fake-events")
            eventsFile = engineArguments.rest[++index];
        else if (engineArguments.rest[index] === "--fake-step-ms")
            stepMs = Number(engineArguments.rest[++index]);
    }
    if (eventsFile === undefined) {
        process.stderr.write("fakeEngineEntry: --fake-events FILE is required\n");
        process.exit(2);
    }
    const events = eventsFile;
    runEngineProcess({
        arguments: engineArguments,
        createBackend: async () => new FakeEngineBackend(events, stepMs),
        downloadModel
    }).then(
        (exitCode) => process.exit(exitCode),
        (error: unknown) => {
            process.stderr.write(`fakeEngineEntry: ${String(error)}\n`);
            process.exit(1);
        }
    );
}

if (require.main === module)
    main();
