export { startWechatAdapter, isWechatConfigured, WechatConfigError, MAX_WECHAT_IMAGE_BYTES, type WechatAdapter, type WechatAdapterOptions } from './wechat-adapter.ts';
export { readWechatLogin, writeWechatLogin, wechatLoginKey, WechatLoginStateSchema, WechatLoginStatusSchema, type WechatLoginState, type WechatLoginStatus } from './wechat-login.ts';
export { WechatCommands, commandTextOf, seedOf, roomAllowed, ImageProblem, type WechatIncoming, type WechatReply } from './wechat-commands.ts';
export { classifyText, localeOfText, startsWithVideoCommand, stripSelfMention, MAX_TEXT_CHARS, type WechatCommand, type WechatTrigger } from './wechat-triggers.ts';
export { wechatDeliveryHandler, WechatTargetGone, WechatNotLoggedIn, type WechatSender, type WechatTarget, type WechatDeliveryOptions } from './wechat-delivery.ts';
export { startWechatProgress, type WechatProgressOptions } from './wechat-progress.ts';
export { RoomQuota, dayInZone, type RoomCharge, type RoomQuotaOptions } from './room-quota.ts';
export { ImageMemory, RememberedImageSchema, type RememberedImage } from './wechat-images.ts';
export { WECHAT_TEXT, wt, type WechatTextId } from './wechat-messages.ts';
