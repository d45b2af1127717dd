// Splits a chat transcript (oldest first) into the question to answer (the last user turn) and
// the earlier turns, merging consecutive turns of the same role and dropping empty ones.
import type {ChatTurn} from "../engine/engineApi";

export function splitConversationTurns(turns: readonly ChatTurn[], maxHistoryTurns = 12): {question: string; history: ChatTurn[]} | undefined {
    const merged: ChatTurn[] = [];
    for (const turn of turns) {
        const text = turn.text.trim();
        if (text === "")
            continue;
        const last = merged[merged.length - 1];
        if (last !== undefined && last.role === turn.role)
            last.text = `${last.text}\n\n${text}`;
        else
            merged.push({role: turn.role, text});
    }
    while (merged.length > 0 && merged[merged.length - 1]!.role !== "user")
        merged.pop();
    const question = merged.pop();
    if (question === undefined)
        return undefined;
    return {question: question.text, history: merged.slice(Math.max(0, merged.length - maxHistoryTurns))};
}
