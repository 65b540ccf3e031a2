/**
 * Converts a Keras (2.2) functional model, as shipped in tfjs layers format, into an ONNX graph.
 *
 * The ONNX model keeps the Keras interface: input `input` is NHWC float [N, H, W, 3] (N dynamic,
 * so crops and frames can be batched), output `probabilities` is [N, classes]. Inside, the graph
 * works in NCHW (one Transpose after the input), which is what ONNX's Conv and pooling ops expect.
 *
 * Layer mapping: ZeroPadding2D → Pad; Conv2D → Conv (HWIO → OIHW); DepthwiseConv2D → Conv with
 * group = channels (H,W,C,M → C·M,1,H,W); Keras 'same' → auto_pad SAME_UPPER (TensorFlow puts the
 * odd pixel at the end, as SAME_UPPER does), 'valid' → VALID; BatchNormalization → BatchNormalization
 * (ONNX Runtime folds it into the Conv when it optimises the graph); ReLU(max_value) → Clip or Relu;
 * Activation → Relu/Sigmoid/Tanh/Softmax; Add → Add; Concatenate → Concat on channels;
 * MaxPooling2D/AveragePooling2D → MaxPool/AveragePool (padding excluded from averages, as in TF);
 * GlobalAveragePooling2D → GlobalAveragePool + Flatten; Flatten → back to NHWC order + Flatten;
 * Dense → Gemm; Dropout → nothing (inference).
 */
import { OnnxDataType, OnnxGraphBuilder, attr } from '../onnx/index.ts';
import type { OnnxAttr } from '../onnx/index.ts';
import type { KerasLayer, KerasModelSource } from './nsfwjs-model-source.ts';
import { FramecastError } from '@framecast/core';

export const ONNX_INPUT_NAME = 'input';
export const ONNX_OUTPUT_NAME = 'probabilities';
/** Bump when the converter's output changes, so cached .onnx files are rebuilt. */
export const CONVERTER_VERSION = 1;

export class KerasConversionError extends FramecastError {
  declare readonly code: 'keras_conversion_failed';
  constructor(message: string) {
    super('keras_conversion_failed', message);
    this.name = 'KerasConversionError';
  }
}

interface Value {
  name: string;
  /** 4 = NCHW feature map, 2 = [N, features]. */
  rank: number;
}

function pair(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') return [v[0], v[1]];
  throw new KerasConversionError(`${what}: expected a number or a pair, got ${JSON.stringify(v)}`);
}

function channelsLast(layer: KerasLayer): void {
  const fmt = layer.config['data_format'];
  if (fmt !== undefined && fmt !== 'channels_last') {
    throw new KerasConversionError(`${layer.name}: data_format ${String(fmt)} is not supported`);
  }
}

function autoPad(layer: KerasLayer): string {
  const p = layer.config['padding'];
  if (p === 'same') return 'SAME_UPPER';
  if (p === 'valid') return 'VALID';
  throw new KerasConversionError(`${layer.name}: padding ${String(p)} is not supported`);
}

/** OIHW from Keras HWIO. */
function convKernel(hwio: Float32Array, [kh, kw, cin, cout]: Shape4): Float32Array {
  const out = new Float32Array(hwio.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) {
          out[((o * cin + i) * kh + h) * kw + w] = hwio[((h * kw + w) * cin + i) * cout + o] ?? 0;
        }
  return out;
}

/** [C·M, 1, H, W] from Keras depthwise [H, W, C, M]; output channel c·M + m, as TF orders them. */
function depthwiseKernel(hwcm: Float32Array, [kh, kw, c, m]: Shape4): Float32Array {
  const out = new Float32Array(hwcm.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let ci = 0; ci < c; ci++)
        for (let mi = 0; mi < m; mi++) {
          out[((ci * m + mi) * kh + h) * kw + w] = hwcm[((h * kw + w) * c + ci) * m + mi] ?? 0;
        }
  return out;
}

type Shape4 = [number, number, number, number];

function shape4(shape: number[], what: string): Shape4 {
  const [a, b, c, d] = shape;
  if (shape.length !== 4 || a === undefined || b === undefined || c === undefined || d === undefined) {
    throw new KerasConversionError(`${what}: expected a rank-4 kernel, got [${shape.join(',')}]`);
  }
  return [a, b, c, d];
}

export function convertKerasToOnnx(source: KerasModelSource): Uint8Array {
  const g = new OnnxGraphBuilder(`nsfwjs_${source.name}`, 13);
  const values = new Map<string, Value>();
  const used = new Set<string>();

  const weight = (layer: KerasLayer, param: string): { shape: number[]; values: Float32Array } => {
    const key = `${layer.name}/${param}`;
    const w = source.weights.get(key);
    if (w === undefined) throw new KerasConversionError(`missing weight ${key}`);
    used.add(key);
    return w;
  };

  const activation = (x: Value, act: unknown, stem: string): Value => {
    switch (act) {
      case undefined:
      case null:
      case 'linear':
        return x;
      case 'relu':
        return { name: g.op('Relu', [x.name], {}, `${stem}/relu`), rank: x.rank };
      case 'sigmoid':
        return { name: g.op('Sigmoid', [x.name], {}, `${stem}/sigmoid`), rank: x.rank };
      case 'tanh':
        return { name: g.op('Tanh', [x.name], {}, `${stem}/tanh`), rank: x.rank };
      case 'softmax':
        // Keras softmax is over the last axis: channels, which is axis 1 in NCHW and in [N, F].
        return { name: g.op('Softmax', [x.name], { axis: attr.int(1) }, `${stem}/softmax`), rank: x.rank };
      default:
        throw new KerasConversionError(`${stem}: activation ${String(act)} is not supported`);
    }
  };

  const inputsOf = (layer: KerasLayer): Value[] => {
    if (layer.inbound_nodes.length !== 1) {
      throw new KerasConversionError(`${layer.name}: shared layers (${layer.inbound_nodes.length} inbound nodes) are not supported`);
    }
    return (layer.inbound_nodes[0] ?? []).map(([name, nodeIndex, tensorIndex]) => {
      if (nodeIndex !== 0 || tensorIndex !== 0) throw new KerasConversionError(`${layer.name}: input ${name}[${nodeIndex},${tensorIndex}] is not supported`);
      const v = values.get(name);
      if (v === undefined) throw new KerasConversionError(`${layer.name}: input ${name} is not defined yet`);
      return v;
    });
  };

  const single = (layer: KerasLayer): Value => {
    const ins = inputsOf(layer);
    const first = ins[0];
    if (ins.length !== 1 || first === undefined) throw new KerasConversionError(`${layer.name}: expected one input, got ${ins.length}`);
    return first;
  };

  const need4 = (layer: KerasLayer, x: Value): void => {
    if (x.rank !== 4) throw new KerasConversionError(`${layer.name}: expects a feature map, got rank ${x.rank}`);
  };

  for (const layer of source.layers) {
    const c = layer.config;
    const stem = layer.name;
    let out: Value;
    switch (layer.class_name) {
      case 'InputLayer': {
        const shape = c['batch_input_shape'] as (number | null)[];
        const [, h, w, ch] = shape;
        if (typeof h !== 'number' || typeof w !== 'number' || typeof ch !== 'number') {
          throw new KerasConversionError(`${stem}: input shape ${JSON.stringify(shape)} must be fixed`);
        }
        g.input(ONNX_INPUT_NAME, OnnxDataType.FLOAT, ['N', h, w, ch]);
        out = { name: g.op('Transpose', [ONNX_INPUT_NAME], { perm: attr.ints([0, 3, 1, 2]) }, `${stem}/nchw`), rank: 4 };
        break;
      }
      case 'ZeroPadding2D': {
        channelsLast(layer);
        const x = single(layer);
        need4(layer, x);
        const p = c['padding'];
        let top: number, bottom: number, left: number, right: number;
        if (Array.isArray(p) && Array.isArray(p[0])) {
          [top, bottom] = pair(p[0], stem);
          [left, right] = pair(p[1], stem);
        } else {
          [top, left] = pair(p, stem);
          [bottom, right] = [top, left];
        }
        const pads = g.int64s(`${stem}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
        out = { name: g.op('Pad', [x.name, pads], { mode: attr.string('constant') }, stem), rank: 4 };
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        channelsLast(layer);
        const x = single(layer);
        need4(layer, x);
        const depthwise = layer.class_name === 'DepthwiseConv2D';
        const k = weight(layer, depthwise ? 'depthwise_kernel' : 'kernel');
        const ks = shape4(k.shape, stem);
        const [kh, kw, cin, cout] = ks;
        const wName = depthwise
          ? g.floats(`${stem}/W`, [cin * cout, 1, kh, kw], depthwiseKernel(k.values, ks))
          : g.floats(`${stem}/W`, [cout, cin, kh, kw], convKernel(k.values, ks));
        const ins = [x.name, wName];
        if (c['use_bias'] === true) {
          const b = weight(layer, 'bias');
          ins.push(g.floats(`${stem}/B`, [b.values.length], b.values));
        }
        const attrs: Record<string, OnnxAttr> = {
          kernel_shape: attr.ints([kh, kw]),
          strides: attr.ints(pair(c['strides'] ?? 1, stem)),
          dilations: attr.ints(pair(c['dilation_rate'] ?? 1, stem)),
          auto_pad: attr.string(autoPad(layer)),
        };
        if (depthwise) attrs['group'] = attr.int(cin);
        out = activation({ name: g.op('Conv', ins, attrs, stem), rank: 4 }, c['activation'], stem);
        break;
      }
      case 'BatchNormalization': {
        const x = single(layer);
        const axis = c['axis'];
        if (!(axis === -1 || axis === 3 || (axis === 1 && x.rank === 2))) {
          throw new KerasConversionError(`${stem}: BatchNormalization on axis ${String(axis)} is not supported`);
        }
        const mean = weight(layer, 'moving_mean');
        const variance = weight(layer, 'moving_variance');
        const n = mean.values.length;
        const gamma = c['scale'] === false ? new Float32Array(n).fill(1) : weight(layer, 'gamma').values;
        const beta = c['center'] === false ? new Float32Array(n) : weight(layer, 'beta').values;
        const eps = c['epsilon'];
        if (typeof eps !== 'number') throw new KerasConversionError(`${stem}: epsilon missing`);
        out = {
          name: g.op(
            'BatchNormalization',
            [
              x.name,
              g.floats(`${stem}/gamma`, [n], gamma),
              g.floats(`${stem}/beta`, [n], beta),
              g.floats(`${stem}/mean`, [n], mean.values),
              g.floats(`${stem}/var`, [n], variance.values),
            ],
            { epsilon: attr.float(eps) },
            stem,
          ),
          rank: x.rank,
        };
        break;
      }
      case 'ReLU': {
        const x = single(layer);
        const slope = (c['negative_slope'] as number | undefined) ?? 0;
        const threshold = (c['threshold'] as number | undefined) ?? 0;
        if (slope !== 0 || threshold !== 0) throw new KerasConversionError(`${stem}: ReLU with slope/threshold is not supported`);
        const max = c['max_value'];
        if (typeof max === 'number') {
          const lo = g.scalar(`${stem}/min`, 0);
          const hi = g.scalar(`${stem}/max`, max);
          out = { name: g.op('Clip', [x.name, lo, hi], {}, stem), rank: x.rank };
        } else {
          out = { name: g.op('Relu', [x.name], {}, stem), rank: x.rank };
        }
        break;
      }
      case 'Activation':
        out = activation(single(layer), c['activation'], stem);
        break;
      case 'Add': {
        const ins = inputsOf(layer);
        const [first, ...rest] = ins;
        if (first === undefined || rest.length === 0) throw new KerasConversionError(`${stem}: Add needs two inputs or more`);
        let acc = first.name;
        rest.forEach((v, i) => {
          acc = g.op('Add', [acc, v.name], {}, i === rest.length - 1 ? stem : `${stem}/${i}`);
        });
        out = { name: acc, rank: first.rank };
        break;
      }
      case 'Concatenate': {
        const ins = inputsOf(layer);
        const axis = c['axis'];
        const rank = ins[0]?.rank ?? 0;
        if (!(axis === -1 || axis === rank - 1)) throw new KerasConversionError(`${stem}: Concatenate on axis ${String(axis)} is not supported`);
        out = { name: g.op('Concat', ins.map((v) => v.name), { axis: attr.int(1) }, stem), rank };
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        channelsLast(layer);
        const x = single(layer);
        need4(layer, x);
        const pool = pair(c['pool_size'], stem);
        const attrs: Record<string, OnnxAttr> = {
          kernel_shape: attr.ints(pool),
          strides: attr.ints(pair(c['strides'] ?? pool, stem)),
          auto_pad: attr.string(autoPad(layer)),
        };
        if (layer.class_name === 'AveragePooling2D') attrs['count_include_pad'] = attr.int(0);
        out = { name: g.op(layer.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [x.name], attrs, stem), rank: 4 };
        break;
      }
      case 'GlobalAveragePooling2D': {
        channelsLast(layer);
        const x = single(layer);
        need4(layer, x);
        const pooled = g.op('GlobalAveragePool', [x.name], {}, `${stem}/pool`);
        out = { name: g.op('Flatten', [pooled], { axis: attr.int(1) }, stem), rank: 2 };
        break;
      }
      case 'Flatten': {
        const x = single(layer);
        if (x.rank === 4) {
          // Keras flattens NHWC; go back to that order first so a following Dense sees its layout.
          const nhwc = g.op('Transpose', [x.name], { perm: attr.ints([0, 2, 3, 1]) }, `${stem}/nhwc`);
          out = { name: g.op('Flatten', [nhwc], { axis: attr.int(1) }, stem), rank: 2 };
        } else {
          out = x;
        }
        break;
      }
      case 'Dense': {
        const x = single(layer);
        if (x.rank !== 2) throw new KerasConversionError(`${stem}: Dense on rank ${x.rank} is not supported`);
        const k = weight(layer, 'kernel');
        const [fin, fout] = k.shape;
        if (k.shape.length !== 2 || fin === undefined || fout === undefined) throw new KerasConversionError(`${stem}: bad kernel shape`);
        const ins = [x.name, g.floats(`${stem}/W`, [fin, fout], k.values)];
        if (c['use_bias'] === true) {
          const b = weight(layer, 'bias');
          ins.push(g.floats(`${stem}/B`, [fout], b.values));
        }
        out = activation({ name: g.op('Gemm', ins, {}, stem), rank: 2 }, c['activation'], stem);
        break;
      }
      case 'Dropout':
        out = single(layer);
        break;
      default:
        throw new KerasConversionError(`${stem}: layer ${layer.class_name} is not supported`);
    }
    values.set(layer.name, out);
  }

  const [outName] = source.outputLayers;
  const final = outName === undefined ? undefined : values.get(outName);
  if (source.outputLayers.length !== 1 || final === undefined || final.rank !== 2) {
    throw new KerasConversionError(`expected one rank-2 output, got ${source.outputLayers.join(',')}`);
  }
  const unused = [...source.weights.keys()].filter((k) => !used.has(k));
  if (unused.length > 0) throw new KerasConversionError(`weights not used by any layer: ${unused.slice(0, 5).join(', ')}`);
  g.op('Identity', [final.name], {}, ONNX_OUTPUT_NAME);
  const classes = source.weights.get(`${outName}/bias`)?.values.length ?? 5;
  g.output(ONNX_OUTPUT_NAME, OnnxDataType.FLOAT, ['N', classes]);
  return g.encode({
    producer: 'framecast-convert-nsfw',
    docString: `nsfwjs ${source.nsfwjsVersion} ${source.name}, converted from its tfjs layers model`,
    metadata: {
      nsfwjs_version: source.nsfwjsVersion,
      nsfwjs_model: source.name,
      converter_version: String(CONVERTER_VERSION),
      input_size: String(source.inputSize),
      input_layout: 'NHWC float32 RGB in [0,1]',
      classes: 'Drawing,Hentai,Neutral,Porn,Sexy',
    },
  });
}
