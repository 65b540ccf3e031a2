import type { ContentModerator, ModerationAction, ModerationContext, ModerationVerdict } from '@framecast/core';

const SEVERITY: Record<ModerationAction, number> = { allow: 0, review: 1, block: 2 };

function worst(verdicts: ModerationVerdict[]): ModerationVerdict {
  let out: ModerationVerdict = { action: 'allow', hits: [], source: verdicts.map((v) => v.source).join('+') || 'none' };
  for (const v of verdicts) {
    if (SEVERITY[v.action] > SEVERITY[out.action]) out = { ...v, hits: [...v.hits] };
    else if (v.action === out.action && v.action !== 'allow') out = { ...out, hits: [...out.hits, ...v.hits] };
  }
  return out;
}

/**
 * Several checkers behind the one port: every text checker sees the text and every image checker
 * the image; the most severe verdict wins (block > review > allow). Local checkers run first, and a
 * remote one is asked only when the local ones allow, to spend its quota on what is left.
 */
export function combineModerators(local: ContentModerator[], remote: ContentModerator[] = []): ContentModerator {
  async function run(pick: (m: ContentModerator) => Promise<ModerationVerdict> | undefined): Promise<ModerationVerdict> {
    const first = (await Promise.all(local.map(pick).filter((p): p is Promise<ModerationVerdict> => p !== undefined)));
    const v = worst(first);
    if (v.action === 'block' || remote.length === 0) return v;
    const second = await Promise.all(remote.map(pick).filter((p): p is Promise<ModerationVerdict> => p !== undefined));
    return worst([v, ...second]);
  }
  return {
    moderateText: (text: string, ctx?: ModerationContext) => run((m) => m.moderateText(text, ctx)),
    moderateImage: (image, ctx?: ModerationContext) => run((m) => m.moderateImage?.(image, ctx)),
  };
}
