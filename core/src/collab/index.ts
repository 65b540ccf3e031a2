export * from './collab-board.ts';
export * from './collab-payloads.ts';
export { CollabService, CollabContextSchema, type CollabContext, type CollabReply, type CollabNotice, type BoardView, type ShotView } from './collab-service.ts';
export type { CollabEvents } from './collab-events.ts';
