import { USER_SETTING_NAMES, type UserSettingName } from '@framecast/core';
import { openContext, parseUserKey, printJson, UsageError } from './cli-context.ts';

export async function settingsShow(user: string): Promise<void> {
  const userKey = parseUserKey(user);
  const ctx = await openContext();
  try {
    const s = await ctx.core.settings.get(userKey);
    printJson({ user: userKey, settings: s, defaults: { allowDowngrade: ctx.config.env.FRAMECAST_OOM_DOWNGRADE } });
  } finally {
    await ctx.close();
  }
}

export async function settingsSet(user: string, name: string, value: string): Promise<void> {
  const userKey = parseUserKey(user);
  if (!(USER_SETTING_NAMES as readonly string[]).includes(name)) throw new UsageError(`unknown setting "${name}"; known: ${USER_SETTING_NAMES.join(', ')}`);
  const v = { on: true, true: true, yes: true, off: false, false: false, no: false }[value.toLowerCase()];
  if (v === undefined) throw new UsageError('value must be on or off');
  const ctx = await openContext();
  try {
    printJson({ user: userKey, settings: await ctx.core.settings.set(userKey, name as UserSettingName, v) });
  } finally {
    await ctx.close();
  }
}
