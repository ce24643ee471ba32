export type { RgbImage } from './rgb';
export { assertRgb } from './rgb';
export { decodeImage, resizeRgb, encodeJpeg, encodePng, ImageDecodeError, DEFAULT_MAX_INPUT_PIXELS, type DecodeOptions } from './codec';
export { rgbToNchw, nchwToRgb, rgbToNchw16, nchw16ToRgb, unitOfByte, byteOfUnit } from './tensor';
export { PlanarConverter } from './PlanarConverter';
