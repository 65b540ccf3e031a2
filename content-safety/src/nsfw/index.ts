export * from './nsfw-classifier.ts';
export * from './ensure-nsfw-model.ts';
export { slidingWindows, DEFAULT_NSFW_WINDOWS, type NsfwWindowOptions, type NsfwWindow } from './nsfw-windows.ts';
export { resizeBilinearToTensor, findContentBox, type CropRect } from './nsfw-preprocess.ts';
export { convertKerasToOnnx, KerasConversionError, CONVERTER_VERSION, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from './keras-to-onnx.ts';
export { loadNsfwjsModel, nsfwjsVersion, type NsfwModelName } from './nsfwjs-model-source.ts';
export { skinMap, skinFraction, SKIN_BLOCK, type SkinMap } from './nsfw-window-prior.ts';
