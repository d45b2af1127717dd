// The --outline-detail value of the index, distill and ask commands.
import {UsageError} from "../common/errors";
import {isOutlineDetail, outlineDetails, type OutlineDetail} from "../indexer/workspaceOutline";

export function parseOutlineDetail(value: string): OutlineDetail {
    if (!isOutlineDetail(value))
        throw new UsageError(`--outline-detail must be ${outlineDetails.join(" or ")}, got "${value}"`);
    return value;
}
