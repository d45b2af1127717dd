// The token scorers the engine knows, in one list for the protocol check, the command line and the
// types (settings offer a subset: kvDistillSettings.userScorers).

export const scorerNames = ["adapter", "reconstruct", "surprisal", "recent", "random"] as const;

export type ScorerName = typeof scorerNames[number];

export function isScorerName(value: string): value is ScorerName {
    return (scorerNames as readonly string[]).includes(value);
}
