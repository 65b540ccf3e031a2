/**
 * Escaping for a value inside an ffmpeg filtergraph string (`-filter_complex`), such as drawtext's
 * `text=` or `fontfile=`. The string is unescaped twice: once when the graph is split into filters
 * (where `\ ' [ ] , ;` are special) and once when the filter's `key=value:key=value` options are
 * split (where `\ ' :` are special). So escape for the option level first, then for the graph level.
 * drawtext's own `%{…}` expansion must be turned off separately with `expansion=none`.
 */
export function escapeFilterOptionValue(value: string): string {
  const optionLevel = value.replace(/[\\':]/g, '\\$&');
  return optionLevel.replace(/[\\'[\],;]/g, '\\$&');
}
