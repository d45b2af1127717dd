// Follow-up questions offered under an answer: about the files the answer pointed to.
import {parseFileReference} from "./fileReferences";
import {formatMessage, type Translate} from "./formatMessage";

export function suggestFollowUps(linkedReferences: readonly string[], t: Translate = formatMessage, limit = 3): string[] {
    const paths: string[] = [];
    for (const reference of linkedReferences) {
        const parsed = parseFileReference(reference);
        if (parsed !== undefined && !paths.includes(parsed.path))
            paths.push(parsed.path);
    }
    const followUps: string[] = [];
    for (const filePath of paths.slice(0, limit)) {
        followUps.push(t("What does {0} do, and which other files use it?", filePath));
    }
    if (paths.length === 0)
        followUps.push(t("Which files are most relevant to this?"));
    return followUps.slice(0, limit);
}
