import type { APIInteractionResponse, REST } from 'discord.js';
import type { BlobStore, Core, FramecastConfig } from '@framecast/core';
import type { Logger } from 'pino';
import type { DiscordCollab } from './discord-collab.ts';
import type { DiscordRoles } from './discord-roles.ts';

/** What every handler of the adapter uses. */
export interface DiscordContext {
  readonly core: Core;
  readonly store: BlobStore;
  readonly config: FramecastConfig;
  readonly rest: REST;
  readonly logger: Logger;
  readonly applicationId: string;
  readonly roles: DiscordRoles;
  /** The clock (tests move it past the 15-minute token window). */
  readonly now: () => number;
  /** Storyboards (absent when the adapter has no Redis of its own to keep their keys). */
  readonly collab?: DiscordCollab;
}

/**
 * An interaction's answer: the first response (sent by the transport: the HTTP body, or the
 * callback over REST for the gateway) and the work that follows it (submit, edits).
 */
export interface InteractionReply {
  response: APIInteractionResponse;
  after?: () => Promise<void>;
}
