/** virtio-blk numbers (virtio 1.2, 5.2). */
import { featureBit } from '../constants';

export const VIRTIO_BLK_F_SIZE_MAX = featureBit(1);
export const VIRTIO_BLK_F_SEG_MAX = featureBit(2);
export const VIRTIO_BLK_F_RO = featureBit(5);
export const VIRTIO_BLK_F_BLK_SIZE = featureBit(6);
export const VIRTIO_BLK_F_FLUSH = featureBit(9);
export const VIRTIO_BLK_F_MQ = featureBit(12);
export const VIRTIO_BLK_F_DISCARD = featureBit(13);
export const VIRTIO_BLK_F_WRITE_ZEROES = featureBit(14);

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;

export const SECTOR_SIZE = 512;
export const REQUEST_HEADER_SIZE = 16;
export const DISCARD_SEGMENT_SIZE = 16;
export const VIRTIO_BLK_ID_BYTES = 20;

/** Configuration space offsets (struct virtio_blk_config). */
export const CFG = {
  capacity: 0x00,
  sizeMax: 0x08,
  segMax: 0x0c,
  blkSize: 0x14,
  numQueues: 0x22,
  maxDiscardSectors: 0x24,
  maxDiscardSeg: 0x28,
  discardSectorAlignment: 0x2c,
  maxWriteZeroesSectors: 0x30,
  maxWriteZeroesSeg: 0x34,
  writeZeroesMayUnmap: 0x38,
  size: 0x3c,
} as const;
