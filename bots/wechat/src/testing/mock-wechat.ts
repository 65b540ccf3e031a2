import { randomUUID } from 'node:crypto';
import { FileBox, type FileBoxInterface } from 'file-box';
import { types, type payloads } from 'wechaty-puppet';
import { mock, PuppetMock } from 'wechaty-puppet-mock';

/** A text or a file the bot sent, as the fake WeChat saw it. */
export interface SentMessage {
  conversationId: string;
  text?: string;
  file?: { name: string; bytes: Buffer; metadata: Record<string, unknown> };
  at: number;
}

/**
 * wechaty-puppet-mock with a record of what the bot sends. The mock keeps files as JSON, which
 * only base64/URL boxes allow: a file the bot sends is read (as a real puppet uploads it) and
 * handed on as base64. `failFileSends` makes the next N file sends fail, as large video sends do
 * on some puppets.
 */
export class RecordingPuppetMock extends PuppetMock {
  readonly sent: SentMessage[] = [];
  failFileSends = 0;

  override async messageSendText(conversationId: string, text: string): Promise<void> {
    this.sent.push({ conversationId, text, at: Date.now() });
    return super.messageSendText(conversationId, text);
  }

  override async messageSendFile(conversationId: string, file: FileBoxInterface): Promise<void> {
    if (this.failFileSends > 0) {
      this.failFileSends -= 1;
      throw new Error('mock: file send failed');
    }
    const bytes = await file.toBuffer();
    this.sent.push({ conversationId, file: { name: file.name, bytes, metadata: { ...file.metadata } }, at: Date.now() });
    return super.messageSendFile(conversationId, FileBox.fromBase64(bytes.toString('base64'), file.name));
  }
}

/** A fake WeChat: the mock puppet, the bot's account, and helpers that make users say things. */
export class MockWechat {
  readonly mocker = new mock.Mocker();
  readonly puppet = new RecordingPuppetMock({ mocker: this.mocker });
  /** The bot's own account (logged in by login()). */
  readonly self: mock.ContactMock;

  constructor(selfName = 'Framecast') {
    this.self = this.mocker.createContact({ name: selfName });
  }

  /** Shows a login QR code, then logs the bot in. */
  scan(url: string): void {
    this.mocker.scan(url, types.ScanStatus.Waiting);
  }

  login(): void {
    this.mocker.login(this.self);
  }

  contact(name: string): mock.ContactMock {
    return this.mocker.createContact({ name });
  }

  room(topic: string, members: mock.ContactMock[]): mock.RoomMock {
    return this.mocker.createRoom({ topic, memberIdList: [this.self.id, ...members.map((m) => m.id)] });
  }

  /**
   * `from` says `what` (text, or a picture as a FileBox) to the bot in a private chat, or in `room`
   * mentioning `mentions`; returns the message id. The puppet emits the message event once.
   */
  say(from: mock.ContactMock, what: string | FileBoxInterface, room?: mock.RoomMock, mentions: mock.ContactMock[] = []): string {
    const id = `m${randomUUID().replace(/-/g, '')}`;
    const base: payloads.MessageBase = { id, talkerId: from.id, timestamp: Date.now(), type: types.Message.Text };
    if (typeof what === 'string') base.text = what;
    else {
      this.mocker.cacheFileBoxPayload.set(id, what.toJSON());
      base.type = types.Message.Image;
    }
    const payload: payloads.Message = room === undefined
      ? { ...base, listenerId: this.self.id }
      : { ...base, roomId: room.id, mentionIdList: mentions.map((m) => m.id) };
    this.mocker.MessageMock.create(payload);
    this.emit(id);
    return id;
  }

  /** The puppet emits the message event of `messageId` (again: a duplicated event). */
  emit(messageId: string): void {
    this.puppet.emit('message', { messageId });
  }

  /** What the bot sent to a conversation (a contact id or a room id). */
  sentTo(conversationId: string): SentMessage[] {
    return this.puppet.sent.filter((m) => m.conversationId === conversationId);
  }
}
