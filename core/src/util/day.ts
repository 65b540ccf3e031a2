/** The calendar day (YYYY-MM-DD) of an instant in a time zone: quotas roll over at that zone's midnight. */
export function dayIn(timeZone: string, at: number = Date.now()): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return `${get('year')}-${get('month')}-${get('day')}`;
}
