const formatters = new Map<string, Intl.DateTimeFormat>();
/** Each zone's last answer and the minute it holds for (every request asks: formatToParts is costly). */
const lastDay = new Map<string, { minute: number; day: string }>();

/** The calendar day (YYYY-MM-DD) of an instant in a time zone: quotas roll over at that zone's midnight. */
export function dayIn(timeZone: string, at: number = Date.now()): string {
  // Today's zones are offset from UTC by whole minutes, so a day starts on a UTC minute: the day of
  // one instant holds for its whole minute.
  const minute = Math.floor(at / 60_000);
  const last = lastDay.get(timeZone);
  if (last !== undefined && last.minute === minute) return last.day;
  // Building an Intl.DateTimeFormat costs far more than using one: keep one per zone.
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, f);
  }
  const parts = f.formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  const day = `${get('year')}-${get('month')}-${get('day')}`;
  lastDay.set(timeZone, { minute, day });
  return day;
}
