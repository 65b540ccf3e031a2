export { startSlackAdapter, isSlackConfigured, SlackConfigError, MAKE_VIDEO_SHORTCUT, VIDEO_COMMAND, MAX_SLACK_IMAGE_BYTES, type SlackAdapter, type SlackAdapterOptions } from './slack-adapter.ts';
export { SlackHttpReceiver, SlackSocketReceiver, SLACK_EVENTS_PATH, parseSlackBody } from './slack-receiver.ts';
export { slackSignature, verifySlackSignature, SLACK_MAX_SKEW_SECONDS, type SignatureCheck } from './slack-signature.ts';
export { SlackCommands, toChatRequest, extractFileLinks, stripMentions, localeOf, type SlackInvocation, type SlackUserInfo, type SlackFile, type SlackIntakeAnswer } from './slack-commands.ts';
export { startSlackProgress, statusText, statusBlocks, statusRankOf, SlackStatusBoard, STATUS_RANK, ACTION, type SlackProgressOptions, type StatusTarget, type StatusPosition } from './slack-progress.ts';
export { slackDeliveryHandler, classifySlackError, PERMANENT_SLACK_ERRORS, UPLOAD_REFUSED_ERRORS, LINK_AFTER_ATTEMPTS, type SlackDeliveryOptions } from './slack-delivery.ts';
export { registerSlackActions, commandTextOf, seedOf } from './slack-actions.ts';
export { homeView, publishHome } from './slack-home.ts';
export { SlackCollab, boardBlocks, applyRenderEvent, progressFrom, collabButtonValue, parseCollabButtonValue, COLLAB_ACTION, VOTE_REACTIONS, type SlackCollabDeps, type SlackCollabOrigin, type BoardProgress } from './slack-collab.ts';
