import { z } from 'zod';
import { ffprobeJson } from './ffprobe.ts';
import { VideoError } from './video-error.ts';

/**
 * The implicit label of GB 45438-2025 (标识办法 / 网络安全技术 人工智能生成合成内容标识方法): file
 * metadata under the key `AIGC` whose value is a JSON object of these fields. Label "1" = AI-generated.
 * ContentProducer names the service that made it, ProduceID is our job id; the propagator fields are
 * for platforms that pass the file on.
 */
export const AigcLabelSchema = z.object({
  Label: z.string(),
  ContentProducer: z.string(),
  ProduceID: z.string(),
  ReservedCode1: z.string().default(''),
  ContentPropagator: z.string().default(''),
  PropagateID: z.string().default(''),
  ReservedCode2: z.string().default(''),
});
export type AigcLabel = z.infer<typeof AigcLabelSchema>;

export interface AigcLabelInput {
  /** Who produced it: the service name (and operator), e.g. "Framecast". */
  contentProducer: string;
  /** The job id. */
  produceId: string;
  contentPropagator?: string;
  propagateId?: string;
}

/** Metadata key as stored in the container (mp4 needs `-movflags use_metadata_tags` for it). */
export const AIGC_METADATA_KEY = 'AIGC';

export function buildAigcLabel(input: AigcLabelInput): AigcLabel {
  return {
    Label: '1',
    ContentProducer: input.contentProducer,
    ProduceID: input.produceId,
    ReservedCode1: '',
    ContentPropagator: input.contentPropagator ?? '',
    PropagateID: input.propagateId ?? '',
    ReservedCode2: '',
  };
}

/** The JSON string written as the `AIGC` tag's value, fields in the standard's order. */
export function aigcMetadataValue(label: AigcLabel): string {
  return JSON.stringify(AigcLabelSchema.parse(label));
}

/**
 * Reads the implicit label back with ffprobe (`-show_entries format_tags`). Undefined when the file
 * has no AIGC tag; VideoError 'bad_metadata' when the tag is not the standard's JSON shape.
 */
export async function readAigcMetadata(file: string): Promise<AigcLabel | undefined> {
  const probe = await ffprobeJson(file, ['-show_entries', 'format_tags']);
  const tags = probe.format?.tags ?? {};
  const entry = Object.entries(tags).find(([k]) => k.toUpperCase() === AIGC_METADATA_KEY);
  if (!entry) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(entry[1]);
  } catch (err) {
    throw new VideoError('bad_metadata', 'the AIGC metadata tag is not JSON', { cause: err });
  }
  const parsed = AigcLabelSchema.safeParse(json);
  if (!parsed.success) {
    throw new VideoError('bad_metadata', 'the AIGC metadata tag lacks the GB 45438 fields', { cause: parsed.error });
  }
  return parsed.data;
}
