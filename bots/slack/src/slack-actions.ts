import { createHash } from 'node:crypto';
import type { Core, GenerationSpec, JobRecord } from '@framecast/core';
import type { App, BlockButtonAction } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { SlackCommands } from './slack-commands.ts';
import { st } from './slack-messages.ts';
import { ACTION, buttonValue, parseButtonValue } from './slack-progress.ts';

/** The /video command that makes `spec` again, with this seed and mode (a reroll or an upscale). */
export function commandTextOf(spec: GenerationSpec, seed: number, mode: 'draft' | 'final'): string {
  const neg = spec.negativePrompt === undefined || spec.negativePrompt === '' ? '' : ` --neg "${spec.negativePrompt.replace(/"/g, "'")}"`;
  return `${spec.prompt} --seed ${seed} --ar ${spec.aspect} --duration ${spec.durationSeconds}${neg}${mode === 'draft' ? ' --draft' : ''}`;
}

/** A seed from the button's nonce: both payloads of a double click ask for the same job. */
export function seedOf(nonce: string): number {
  return Number.parseInt(createHash('sha256').update(nonce).digest('hex').slice(0, 8), 16);
}

export interface SlackActionsDeps {
  core: Core;
  client: WebClient;
  commands: SlackCommands;
  logger: Logger;
}

/**
 * The buttons: reroll (a new seed), upscale to final (same seed), cancel, delete (requester or admin).
 * Each click's eventId is the button's action id and value (job + nonce), so a double click makes one job.
 */
export function registerSlackActions(app: App, deps: SlackActionsDeps): void {
  const { core, client, commands, logger } = deps;

  const tell = async (body: BlockButtonAction, text: string): Promise<void> => {
    const channel = body.channel?.id ?? body.container?.channel_id;
    if (typeof channel !== 'string') return;
    await client.chat.postEphemeral({ channel, user: body.user.id, text }).catch((err: unknown) => logger.info({ err }, 'ephemeral answer not posted'));
  };

  const again = (mode: 'reroll' | 'upscale') => async ({ ack, body, action }: { ack: () => Promise<void>; body: BlockButtonAction; action: BlockButtonAction['actions'][number] }) => {
    await ack();
    const locale = await commands.localeFor(body.user.id);
    const v = parseButtonValue(action.value);
    const job = v === undefined ? undefined : await core.job(v.jobId);
    const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
    const teamId = body.team?.id ?? body.user.team_id;
    if (v === undefined || job === undefined || channel === undefined || teamId === undefined) return tell(body, st('job_gone', locale));
    const target = job.replyTarget?.platform === 'slack' ? job.replyTarget : undefined;
    const text = mode === 'reroll' ? commandTextOf(job.spec, seedOf(`${v.jobId}|${v.extra}`), job.spec.mode) : commandTextOf(job.spec, job.spec.seed, 'final');
    const answer = await commands.submit({
      kind: 'command', teamId, channelId: channel, userId: body.user.id,
      eventId: `action:${action.action_id}:${action.value ?? ''}`,
      text, files: [],
      attachments: job.spec.referenceImage === undefined ? [] : [{ kind: 'image', storageRef: job.spec.referenceImage.ref }],
      ...(target?.threadTs === undefined ? {} : { threadTs: target.threadTs }),
    });
    if (answer.result?.duplicate === true) return;
    await tell(body, answer.text);
    // A fresh nonce on the clicked button: a later click is a new request, a double click stays one.
    const ts = body.message?.ts ?? (body.container?.message_ts as string | undefined);
    const blocks = body.message?.blocks as Array<{ type: string; elements?: Array<{ action_id?: string; value?: string }> }> | undefined;
    if (ts !== undefined && Array.isArray(blocks)) {
      const renewed = blocks.map((b) => (b.type !== 'actions' ? b : { ...b, elements: (b.elements ?? []).map((e) => (e.action_id === action.action_id ? { ...e, value: buttonValue(v.jobId) } : e)) }));
      await client.chat
        .update({ channel, ts, text: String(body.message?.text ?? ''), blocks: renewed as unknown as KnownBlock[] })
        .catch((err: unknown) => logger.info({ err }, 'button nonce not renewed'));
    }
  };

  app.action<BlockButtonAction>(ACTION.reroll, again('reroll'));
  app.action<BlockButtonAction>(ACTION.upscale, again('upscale'));

  app.action<BlockButtonAction>(ACTION.cancel, async ({ ack, body, action }) => {
    await ack();
    const locale = await commands.localeFor(body.user.id);
    const v = parseButtonValue(action.value);
    if (v === undefined) return;
    const userKey = `slack:${body.user.id}`;
    const res = await core.cancel(v.jobId, { userKey, isAdmin: core.quota.tierOf(userKey) === 'admin' });
    await tell(body, res.message[locale]);
  });

  app.action<BlockButtonAction>(ACTION.delete, async ({ ack, body, action }) => {
    await ack();
    const locale = await commands.localeFor(body.user.id);
    const v = parseButtonValue(action.value);
    const job: JobRecord | undefined = v === undefined ? undefined : await core.job(v.jobId);
    if (v === undefined || job === undefined) return tell(body, st('job_gone', locale));
    const userKey = `slack:${body.user.id}`;
    if (job.userKey !== userKey && core.quota.tierOf(userKey) !== 'admin') return tell(body, st('delete_not_allowed', locale));
    const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
    const ts = body.message?.ts ?? (body.container?.message_ts as string | undefined);
    if (v.extra !== '') await client.files.delete({ file: v.extra }).catch((err: unknown) => logger.info({ err, jobId: v.jobId }, 'files.delete failed'));
    if (channel !== undefined && ts !== undefined) await client.chat.delete({ channel, ts }).catch((err: unknown) => logger.info({ err, jobId: v.jobId }, 'chat.delete failed'));
  });
}
