// @framecast/bot-discord: the Discord adapter (gateway and HTTP interactions, progress, delivery, buttons).
export { startDiscordAdapter, registerDiscordCommands, discordConfigured, type DiscordAdapter, type DiscordAdapterOptions, type RegisterDiscordCommandsOptions } from './discord-adapter.ts';
export { discordCommandDefinitions, commandTextOf, chatRequestOf, replyTargetOf, localeOf, snowflakeTime, DISCORD_COMMAND_NAMES, type VideoOptions } from './discord-commands.ts';
export { createDiscordDeliveryHandler, tokenIsFresh, INTERACTION_TOKEN_LIFETIME_MS, type DiscordDeliveryOptions } from './discord-delivery.ts';
export { startDiscordProgress, progressText, DiscordReplyBoard, type DiscordProgressOptions } from './discord-progress.ts';
export { actionCustomId, parseActionCustomId, resultButtons, queuedButtons, DISCORD_ACTIONS, type DiscordAction } from './discord-actions.ts';
export { discordInteractionsEndpoint, discordPublicKey, verifyDiscordSignature, DISCORD_INTERACTIONS_PATH } from './discord-interactions-endpoint.ts';
export { createDiscordRest, classifyDiscordError, type DiscordFailure } from './discord-rest.ts';
export { DiscordCollab, isDiscordAdmin, displayNameOf, type DiscordCollabOptions } from './discord-collab.ts';
export { DiscordCollabBoards, boardMessageContent, boardComponents, collabCustomId, parseCollabCustomId, shotOfEmoji, VOTE_EMOJI, COLLAB_BUTTON_PREFIX, type BoardProgress, type BoardMessageLocation, type CollabButtonAction } from './discord-collab-board.ts';
