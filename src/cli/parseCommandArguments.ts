// A small, strict command-line parser: declared flags only, "--flag value" or "--flag=value".
import {UsageError} from "../common/errors";

export type FlagSpec = {kind: "string" | "number" | "boolean"};

export type ParsedArguments = {
    positionals: string[];
    strings: Map<string, string>;
    numbers: Map<string, number>;
    booleans: Set<string>;
};

export function parseCommandArguments(args: readonly string[], flags: Readonly<Record<string, FlagSpec>>): ParsedArguments {
    const parsed: ParsedArguments = {positionals: [], strings: new Map(), numbers: new Map(), booleans: new Set()};
    let onlyPositionals = false;
    for (let index = 0; index < args.length; index++) {
        const arg = args[index]!;
        if (onlyPositionals || !arg.startsWith("--") || arg === "--") {
            if (arg === "--" && !onlyPositionals) {
                onlyPositionals = true;
                continue;
            }
            parsed.positionals.push(arg);
            continue;
        }
        const equals = arg.indexOf("=");
        const name = arg.slice(2, equals < 0 ? undefined : equals);
        const spec = flags[name];
        if (spec === undefined)
            throw new UsageError(`unknown option "--${name}"`);
        if (spec.kind === "boolean") {
            if (equals >= 0)
                throw new UsageError(`option "--${name}" takes no value`);
            parsed.booleans.add(name);
            continue;
        }
        let value: string | undefined;
        if (equals >= 0)
            value = arg.slice(equals + 1);
        else {
            value = args[index + 1];
            index++;
        }
        if (value === undefined)
            throw new UsageError(`option "--${name}" needs a value`);
        if (spec.kind === "number") {
            const number = Number(value);
            if (value.trim() === "" || !Number.isFinite(number))
                throw new UsageError(`option "--${name}" needs a number, got "${value}"`);
            parsed.numbers.set(name, number);
        } else
            parsed.strings.set(name, value);
    }
    return parsed;
}
