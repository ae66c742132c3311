import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type onnxProto from "onnx-proto";

/**
 * Writes a tiny encoder/decoder pair with exactly SAM's ONNX interface (names, dtypes, shapes, dynamic point
 * count) but trivial weights, built from protobuf classes so tests and benchmarks need no Python and no
 * download. Opset 17, IR version 8.
 *
 * Encoder: input_image [1,3,1024,1024] → 16×16 AveragePool → 1×1 Conv to 256 channels → image_embeddings
 * [1,256,64,64].
 *
 * Decoder: masks are a real function of the prompt. The box is read from point_coords where point_labels is
 * 2 (top-left) and 3 (bottom-right), in the 1024 model frame. Each original pixel (from orig_im_size) is
 * inside when its centre, mapped into the model frame with SAM's resize ratios, lies in [x0, x1) × [y0, y1).
 * Four masks come out, like SAM's decoder (index 0 = single-mask token, 1..3 = multimask):
 *   0: inverted box   (iou 0.99)
 *   1: empty          (iou 0.30)
 *   2: the box        (iou 0.90)  ← best of the multimask outputs
 *   3: inverted box   (iou 0.60)
 * so a pipeline that picks index 0, argmax over all four, or the first multimask output gets a wrong mask.
 * low_res_masks hold the same four masks on the 256×256 grid over the padded 1024 frame. Embeddings,
 * mask_input and has_mask_input are accepted and ignored.
 */

type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
// onnx-proto is a dev dependency: load it only when a test model is built, so importing this library in a
// production service does not require it.
let onnxModule: typeof onnxProto.onnx | undefined;
function onnx(): typeof onnxProto.onnx {
  onnxModule ??= (createRequire(import.meta.url)("onnx-proto") as typeof onnxProto).onnx;
  return onnxModule;
}
// TensorProto.DataType values from the ONNX spec.
const FLOAT = 1;
const INT64 = 7;

export const TINY_SAM_IOU_PREDICTIONS = [0.99, 0.3, 0.9, 0.6] as const;
export const TINY_SAM_BEST_MULTIMASK_INDEX = 2;
export const SAM_EMBEDDING_CHANNELS = 256;
export const SAM_EMBEDDING_SIDE = 64;
export const SAM_LOW_RES_SIDE = 256;

type Dim = number | string;

function valueInfo(name: string, elemType: number, dims: readonly Dim[]): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): ITensorProto {
  const data = Float32Array.from(values as ArrayLike<number>);
  return { name, dataType: FLOAT, dims: [...dims], rawData: new Uint8Array(data.buffer) };
}

function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): ITensorProto {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dataType: INT64, dims: [...dims], rawData: new Uint8Array(data.buffer) };
}

function node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, number | number[]> = {}): INodeProto {
  const attribute = Object.entries(attributes).map(([name, v]) =>
    Array.isArray(v)
      ? { name, type: onnx().AttributeProto.AttributeType.INTS, ints: v }
      : { name, type: onnx().AttributeProto.AttributeType.INT, i: v },
  );
  return { opType, input: inputs, output: outputs, name: `${opType}_${outputs[0]}`, attribute };
}

function encodeModel(graph: onnxProto.onnx.IGraphProto): Uint8Array {
  const model = onnx().ModelProto.create({
    irVersion: 8,
    producerName: "gently-detection tiny SAM",
    opsetImport: [{ domain: "", version: 17 }],
    graph,
  });
  return onnx().ModelProto.encode(model).finish();
}

export function buildTinySamEncoder(): Uint8Array {
  const weights = new Float32Array(SAM_EMBEDDING_CHANNELS * 3);
  const bias = new Float32Array(SAM_EMBEDDING_CHANNELS);
  for (let c = 0; c < SAM_EMBEDDING_CHANNELS; c++) {
    for (let k = 0; k < 3; k++) weights[c * 3 + k] = (((c * 3 + k) % 7) - 3) / 10;
    bias[c] = c / SAM_EMBEDDING_CHANNELS;
  }
  return encodeModel({
    name: "tiny_sam_encoder",
    input: [valueInfo("input_image", FLOAT, [1, 3, 1024, 1024])],
    output: [valueInfo("image_embeddings", FLOAT, [1, SAM_EMBEDDING_CHANNELS, SAM_EMBEDDING_SIDE, SAM_EMBEDDING_SIDE])],
    initializer: [
      floatTensor("conv_w", [SAM_EMBEDDING_CHANNELS, 3, 1, 1], weights),
      floatTensor("conv_b", [SAM_EMBEDDING_CHANNELS], bias),
    ],
    node: [
      node("AveragePool", ["input_image"], ["pooled"], { kernel_shape: [16, 16], strides: [16, 16] }),
      node("Conv", ["pooled", "conv_w", "conv_b"], ["image_embeddings"]),
    ],
  });
}

export function buildTinySamDecoder(): Uint8Array {
  const nodes: INodeProto[] = [];
  const add = (op: string, inputs: string[], output: string, attrs?: Record<string, number | number[]>): string => {
    nodes.push(node(op, inputs, [output], attrs));
    return output;
  };
  const lowResCentres = Array.from({ length: SAM_LOW_RES_SIDE }, (_, k) => ((k + 0.5) * 1024) / SAM_LOW_RES_SIDE);
  const initializer: ITensorProto[] = [
    int64Tensor("i0", [], [0]),
    int64Tensor("i1", [], [1]),
    int64Tensor("axis1", [1], [1]),
    int64Tensor("axes01", [2], [0, 1]),
    floatTensor("f0", [], [0]),
    floatTensor("f_half", [], [0.5]),
    floatTensor("f1", [], [1]),
    floatTensor("f2", [], [2]),
    floatTensor("f3", [], [3]),
    floatTensor("f1024", [], [1024]),
    floatTensor("low_res_centres", [SAM_LOW_RES_SIDE], lowResCentres),
    floatTensor("iou_const", [1, 4], TINY_SAM_IOU_PREDICTIONS),
  ];

  // Box corners from the labelled points (labels 2 and 3); absent labels give an empty box.
  add("Gather", ["point_coords", "i0"], "px", { axis: 2 });
  add("Gather", ["point_coords", "i1"], "py", { axis: 2 });
  add("Cast", [add("Equal", ["point_labels", "f2"], "is_tl_b")], "is_tl", { to: FLOAT });
  add("Cast", [add("Equal", ["point_labels", "f3"], "is_br_b")], "is_br", { to: FLOAT });
  const corner = (coord: string, sel: string, out: string): string =>
    add("ReduceSum", [add("Mul", [coord, sel], `${out}_sel`), "axis1"], out, { keepdims: 0 });
  corner("px", "is_tl", "box_x0");
  corner("py", "is_tl", "box_y0");
  corner("px", "is_br", "box_x1");
  corner("py", "is_br", "box_y1");

  // SAM's resize geometry from orig_im_size = [H, W].
  add("Gather", ["orig_im_size", "i0"], "orig_h");
  add("Gather", ["orig_im_size", "i1"], "orig_w");
  add("Div", ["f1024", add("Max", ["orig_h", "orig_w"], "longest")], "scale");
  add("Floor", [add("Add", [add("Mul", ["orig_h", "scale"], "h_scaled"), "f_half"], "h_rounding")], "resized_h");
  add("Floor", [add("Add", [add("Mul", ["orig_w", "scale"], "w_scaled"), "f_half"], "w_rounding")], "resized_w");
  add("Div", ["resized_h", "orig_h"], "ratio_y");
  add("Div", ["resized_w", "orig_w"], "ratio_x");
  // Model-frame position of every original pixel centre.
  add("Mul", [add("Add", [add("Range", ["f0", "orig_w", "f1"], "cols"), "f_half"], "col_centres"), "ratio_x"], "xc");
  add("Mul", [add("Add", [add("Range", ["f0", "orig_h", "f1"], "rows"), "f_half"], "row_centres"), "ratio_y"], "yc");

  const boxMask = (xs: string, ys: string, prefix: string): string => {
    const inX = add("And", [add("GreaterOrEqual", [xs, "box_x0"], `${prefix}_gx`), add("Less", [xs, "box_x1"], `${prefix}_lx`)], `${prefix}_inx`);
    const inY = add("And", [add("GreaterOrEqual", [ys, "box_y0"], `${prefix}_gy`), add("Less", [ys, "box_y1"], `${prefix}_ly`)], `${prefix}_iny`);
    const inside = add("And", [add("Unsqueeze", [inY, "axis1"], `${prefix}_iny_col`), inX], `${prefix}_inside`);
    // Logits +1 inside, -1 outside, so the mask threshold 0 recovers the box.
    const box = add("Sub", [add("Mul", [add("Cast", [inside], `${prefix}_insidef`, { to: FLOAT }), "f2"], `${prefix}_twice`), "f1"], `${prefix}_box2d`);
    const inverted = add("Neg", [box], `${prefix}_inv2d`);
    const empty = add("Sub", [add("Mul", [box, "f0"], `${prefix}_zero2d`), "f1"], `${prefix}_empty2d`);
    const as4d = (t: string): string => add("Unsqueeze", [t, "axes01"], `${t}_4d`);
    const inverted4d = as4d(inverted);
    return add("Concat", [inverted4d, as4d(empty), as4d(box), inverted4d], `${prefix}_masks`, { axis: 1 });
  };
  nodes.push(node("Identity", [boxMask("xc", "yc", "full")], ["masks"]));
  nodes.push(node("Identity", [boxMask("low_res_centres", "low_res_centres", "low")], ["low_res_masks"]));
  nodes.push(node("Identity", ["iou_const"], ["iou_predictions"]));

  return encodeModel({
    name: "tiny_sam_decoder",
    input: [
      valueInfo("image_embeddings", FLOAT, [1, SAM_EMBEDDING_CHANNELS, SAM_EMBEDDING_SIDE, SAM_EMBEDDING_SIDE]),
      valueInfo("point_coords", FLOAT, [1, "num_points", 2]),
      valueInfo("point_labels", FLOAT, [1, "num_points"]),
      valueInfo("mask_input", FLOAT, [1, 1, SAM_LOW_RES_SIDE, SAM_LOW_RES_SIDE]),
      valueInfo("has_mask_input", FLOAT, [1]),
      valueInfo("orig_im_size", FLOAT, [2]),
    ],
    output: [
      valueInfo("masks", FLOAT, [1, 4, "orig_height", "orig_width"]),
      valueInfo("iou_predictions", FLOAT, [1, 4]),
      valueInfo("low_res_masks", FLOAT, [1, 4, SAM_LOW_RES_SIDE, SAM_LOW_RES_SIDE]),
    ],
    initializer,
    node: nodes,
  });
}

export interface SamModelPaths {
  encoderPath: string;
  decoderPath: string;
}

/** Writes tiny-sam-encoder.onnx and tiny-sam-decoder.onnx into `dir` (created if missing). */
export function writeTinySamModels(dir: string): SamModelPaths {
  mkdirSync(dir, { recursive: true });
  const encoderPath = join(dir, "tiny-sam-encoder.onnx");
  const decoderPath = join(dir, "tiny-sam-decoder.onnx");
  writeFileSync(encoderPath, buildTinySamEncoder());
  writeFileSync(decoderPath, buildTinySamDecoder());
  return { encoderPath, decoderPath };
}
