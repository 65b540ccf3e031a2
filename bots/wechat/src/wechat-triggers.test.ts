import { describe, expect, it } from 'vitest';
import { classifyText, localeOfText, startsWithVideoCommand, stripSelfMention } from './wechat-triggers.ts';

const room = { inRoom: true, mentioned: false };
const mentioned = { inRoom: true, mentioned: true };
const dm = { inRoom: false, mentioned: false };

describe('WeChat triggers', () => {
  it('in a room, answers a leading command (/video, /视频, 视频：, 视频:) and ignores chatter', () => {
    expect(classifyText('/video a boat --draft', room)).toEqual({ kind: 'prompt', text: '/video a boat --draft', useLastImage: false });
    expect(classifyText('/视频 古镇黄昏', room)).toEqual({ kind: 'prompt', text: '/视频 古镇黄昏', useLastImage: false });
    expect(classifyText('／视频古镇黄昏', room)).toMatchObject({ kind: 'prompt' });
    expect(classifyText('视频：雪山日出', room)).toEqual({ kind: 'prompt', text: '雪山日出', useLastImage: false });
    expect(classifyText('视频: 夜市 --draft', room)).toEqual({ kind: 'prompt', text: '夜市 --draft', useLastImage: false });
    for (const chatter of ['今天去哪玩', 'a video of cats would be nice', '/videos later', '视频很好看', '额度', '取消']) expect(classifyText(chatter, room)).toEqual({ kind: 'ignore' });
  });

  it('in a room, a mention makes any text a prompt or a command', () => {
    expect(classifyText('古镇黄昏的灯笼', mentioned)).toEqual({ kind: 'prompt', text: '古镇黄昏的灯笼', useLastImage: false });
    expect(classifyText('额度', mentioned)).toEqual({ kind: 'command', command: 'quota' });
    expect(classifyText('', mentioned)).toEqual({ kind: 'command', command: 'help' });
    // Slash commands need no mention.
    expect(classifyText('/额度', room)).toEqual({ kind: 'command', command: 'quota' });
    expect(classifyText('/cancel', room)).toEqual({ kind: 'command', command: 'cancel' });
  });

  it('in a private chat, every text counts; the text commands in both languages', () => {
    expect(classifyText('a paper boat --draft', dm)).toEqual({ kind: 'prompt', text: 'a paper boat --draft', useLastImage: false });
    expect(classifyText('额度', dm)).toEqual({ kind: 'command', command: 'quota' });
    expect(classifyText('Quota', dm)).toEqual({ kind: 'command', command: 'quota' });
    expect(classifyText('取消', dm)).toEqual({ kind: 'command', command: 'cancel' });
    expect(classifyText('cancel j_abc123', dm)).toEqual({ kind: 'command', command: 'cancel', arg: 'j_abc123' });
    expect(classifyText('再来一个', dm)).toEqual({ kind: 'command', command: 'again' });
    expect(classifyText('again', dm)).toEqual({ kind: 'command', command: 'again' });
    expect(classifyText('帮助', dm)).toEqual({ kind: 'command', command: 'help' });
    expect(classifyText('help', dm)).toEqual({ kind: 'command', command: 'help' });
    expect(classifyText('/video', dm)).toEqual({ kind: 'command', command: 'help' });
    // A greeting costs nothing: it gets the help.
    for (const hi of ['你好', '您好！', 'hi', 'Hello!', '在吗？']) expect(classifyText(hi, dm)).toEqual({ kind: 'command', command: 'help' });
    expect(classifyText('你好', mentioned)).toEqual({ kind: 'command', command: 'help' });
    expect(classifyText('你好', room)).toEqual({ kind: 'ignore' });
    expect(classifyText('你好的猫 --draft', dm)).toMatchObject({ kind: 'prompt' });
  });

  it('"用上一张图" and "use last image" ask for the last picture and leave the prompt', () => {
    expect(classifyText('用上一张图 让它动起来', dm)).toEqual({ kind: 'prompt', text: '让它动起来', useLastImage: true });
    expect(classifyText('use last image the waves roll --draft', dm)).toEqual({ kind: 'prompt', text: 'the waves roll --draft', useLastImage: true });
    expect(classifyText('视频：用上一张图 雪花飘落', room)).toEqual({ kind: 'prompt', text: '雪花飘落', useLastImage: true });
    expect(classifyText('用上一张图', dm)).toEqual({ kind: 'prompt', text: '', useLastImage: true });
  });

  it('answers in the language of the message, zh-CN by default', () => {
    expect(localeOfText('古镇黄昏')).toBe('zh-CN');
    expect(localeOfText('/video a boat')).toBe('en');
    expect(localeOfText('quota')).toBe('en');
    expect(localeOfText('')).toBe('zh-CN');
    expect(localeOfText('123 ?')).toBe('zh-CN');
  });

  it('strips the bot\'s own mention, with the WeChat separator', () => {
    expect(stripSelfMention('@Framecast\u2005古镇黄昏', ['Framecast'])).toBe('古镇黄昏');
    expect(stripSelfMention('hi @Frame.cast a boat', ['Frame.cast'])).toBe('hi a boat');
    expect(stripSelfMention('@Alice a boat', ['Framecast'])).toBe('@Alice a boat');
    expect(startsWithVideoCommand('  /VIDEO x')).toBe(true);
  });
});
