"""A tiny synthetic detection and segmentation set in the real formats.

Filled shapes on textured backgrounds, written exactly as Pascal VOC, COCO and
Cityscapes lay out their files, so mmdet's ``VOCDataset`` / ``CocoDataset``
and mmseg's ``PascalVOCDataset`` / ``CityscapesDataset`` (and their ``_base_``
dataset configs, with only ``data_root`` changed) read it, and the downstream
configs can train and evaluate a few iterations on the CPU.

Every object is a row-convex pixel shape (each row one run of pixels) with
its own class, box and mask. Its COCO polygon follows the pixel edges, so
pycocotools rasterises it back to exactly the same mask, and its COCO area is
the pixel count.
"""
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from mmpretrain.datasets.categories import VOC2007_CATEGORIES
from PIL import Image

from hexa_mm.utils import ConfigError

__all__ = [
    'CITYSCAPES_CLASSES', 'COCO_CATEGORIES', 'STREET_CLASSES', 'THING_CLASSES',
    'VOC_CLASSES', 'Scene', 'make_tiny_downstream_data', 'tiny_scenes'
]

# The 20 VOC classes (mmdet's and mmseg's order).
VOC_CLASSES = VOC2007_CATEGORIES
# (id, name) of the 80 COCO categories, with COCO's own (gapped) ids.
COCO_CATEGORIES = tuple(
    zip((*range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66),
         67, 70, *range(72, 83), *range(84, 91)),
        ('person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
         'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
         'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep',
         'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
         'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard',
         'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard',
         'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork',
         'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
         'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair',
         'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv',
         'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave',
         'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase',
         'scissors', 'teddy bear', 'hair drier', 'toothbrush')))
# COCO's supercategories hold consecutive ids: (first id, name).
_COCO_SUPERCATEGORIES = ((1, 'person'), (2, 'vehicle'), (10, 'outdoor'),
                         (16, 'animal'), (27, 'accessory'), (34, 'sports'),
                         (44, 'kitchen'), (52, 'food'), (62, 'furniture'),
                         (72, 'electronic'), (78, 'appliance'), (84, 'indoor'))
# The 19 Cityscapes classes; a class's train id is its index.
CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                      'traffic light', 'traffic sign', 'vegetation', 'terrain',
                      'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
                      'motorcycle', 'bicycle')

# The object classes of the VOC and COCO scenes, in COCO id order (so a
# ``metainfo=dict(classes=THING_CLASSES)`` keeps mmdet's CocoDataset labels
# and names aligned).
THING_CLASSES = ('person', 'car', 'bird', 'cat', 'dog')
# The classes of the Cityscapes scenes, in train id order.
STREET_CLASSES = ('road', 'sidewalk', 'building', 'vegetation', 'sky',
                  'person', 'car')

# shape, width range, height range (pixels, inclusive), RGB colour
_THING_STYLE = {
    'person': ('ellipse', (34, 46), (52, 80), (220, 40, 60)),
    'car': ('car', (56, 80), (34, 44), (20, 40, 160)),
    'bird': ('diamond', (36, 52), (36, 52), (240, 200, 40)),
    'cat': ('triangle', (36, 56), (36, 56), (230, 90, 230)),
    'dog': ('rectangle', (36, 56), (36, 50), (150, 80, 30)),
}
_STREET_STYLE = {
    'car': ('car', (20, 36), (10, 16), (0, 0, 142)),
    'person': ('ellipse', (5, 8), (14, 22), (220, 20, 60)),
}
_STUFF_COLOURS = {
    'road': (128, 64, 128),
    'sidewalk': (244, 35, 232),
    'building': (70, 70, 70),
    'vegetation': (107, 142, 35),
    'sky': (70, 130, 180),
}
_IGNORE = 255
_OBJECT_SIZE = (96, 128)  # (height, width) of the VOC and COCO images
_STREET_SIZE = (64, 128)  # of the Cityscapes images
_MAX_OBJECTS = 3
_MARGIN = 4  # least gap between two objects of a VOC / COCO scene
_VOC_BORDER = 2  # width of the 255 band around VOC objects

# Each subset draws from its own random stream of the seed.
_SUBSETS = ('voc2007_trainval', 'voc2007_test', 'voc2012_train', 'voc2012_val',
            'coco_train2017', 'coco_val2017', 'cityscapes_train',
            'cityscapes_val')


class Scene(NamedTuple):
    """One synthetic image and its ground truth.

    Attributes:
        img (np.ndarray): (H, W, 3) uint8 RGB image.
        labels (tuple[str]): The class name of each object of a VOC / COCO
            scene; empty for a Cityscapes scene.
        masks (np.ndarray): (N, H, W) bool, one mask per object, disjoint
            and at least ``_MARGIN`` pixels apart.
        seg (np.ndarray, optional): (H, W) uint8 train ids of a Cityscapes
            scene, 255 where ignored; None for VOC and COCO scenes, whose
            semantic maps follow from the masks.
    """
    img: np.ndarray
    labels: Tuple[str, ...]
    masks: np.ndarray
    seg: Optional[np.ndarray] = None


# Width of each row of a shape, as a fraction of the shape's width, given the
# rows' relative heights t in (0, 1).
_ROW_FRACTIONS = {
    'rectangle': np.ones_like,
    'ellipse': lambda t: np.sqrt(1 - (2 * t - 1)**2),
    'triangle': lambda t: t,
    'diamond': lambda t: 1 - np.abs(2 * t - 1),
    'car': lambda t: np.where(t < 0.4, 0.6, 1.0),  # a cabin on a body
}


def _shape_mask(shape: str, box: Sequence[int],
                size: Tuple[int, int]) -> np.ndarray:
    """Rasterise a shape inside ``box`` (x, y, w, h) as a row-convex mask."""
    x, y, w, h = box
    mask = np.zeros(size, dtype=bool)
    fractions = _ROW_FRACTIONS[shape]((np.arange(h) + 0.5) / h)
    for row, frac in enumerate(fractions):
        run = max(1, int(round(frac * w)))
        left = x + (w - run) // 2
        mask[y + row, left:left + run] = True
    return mask


def _texture(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """A random gradient, stripes or smooth-noise background, float RGB."""
    height, width = size
    lo, hi = rng.uniform(0, 255, (2, 3))
    yy, xx = np.mgrid[0:height, 0:width] / max(size)
    angle = rng.uniform(0, np.pi)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    kind = rng.integers(3)
    if kind == 0:
        t = (along - along.min()) / np.ptp(along)
    elif kind == 1:
        t = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 8) * along)
    else:
        coarse = rng.uniform(0, 1, (height // 16 + 2, width // 16 + 2))
        t = np.asarray(
            Image.fromarray(coarse.astype(np.float32)).resize((width, height),
                                                              Image.BILINEAR))
    return lo + t[..., None] * (hi - lo) + rng.normal(0, 6, (*size, 3))


def _paint(img: np.ndarray, mask: np.ndarray, colour: Sequence[float],
           rng: np.random.Generator) -> None:
    """Fill ``mask`` of ``img`` with a jittered, noisy ``colour``."""
    tone = np.asarray(colour) * rng.uniform(0.8, 1.15)
    img[mask] = tone + rng.normal(0, 10, (int(mask.sum()), 3))


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _apart(box: Sequence[int], others: Sequence[Sequence[int]]) -> bool:
    """Whether box (x, y, w, h) is ``_MARGIN`` pixels from all others."""
    x, y, w, h = box
    for ox, oy, ow, oh in others:
        near_x = x < ox + ow + _MARGIN and ox < x + w + _MARGIN
        near_y = y < oy + oh + _MARGIN and oy < y + h + _MARGIN
        if near_x and near_y:
            return False
    return True


def _object_scene(rng: np.random.Generator) -> Scene:
    """1 to 3 separate objects of :data:`THING_CLASSES` on a texture."""
    height, width = _OBJECT_SIZE
    img = _texture(rng, _OBJECT_SIZE)
    boxes, labels, masks = [], [], []
    for _ in range(rng.integers(1, _MAX_OBJECTS + 1)):
        label = THING_CLASSES[rng.integers(len(THING_CLASSES))]
        shape, w_range, h_range, colour = _THING_STYLE[label]
        w = int(rng.integers(w_range[0], w_range[1] + 1))
        h = int(rng.integers(h_range[0], h_range[1] + 1))
        for _ in range(30):
            box = (int(rng.integers(0, width - w + 1)),
                   int(rng.integers(0, height - h + 1)), w, h)
            if _apart(box, boxes):
                break
        else:
            continue  # no room left for this object
        mask = _shape_mask(shape, box, _OBJECT_SIZE)
        _paint(img, mask, colour, rng)
        boxes.append(box)
        labels.append(label)
        masks.append(mask)
    return Scene(_to_uint8(img), tuple(labels), np.stack(masks))


def _street_scene(rng: np.random.Generator) -> Scene:
    """Sky, a skyline, sidewalk and road, cars and people, an ego hood."""
    height, width = _STREET_SIZE
    train_id = {
        name: CITYSCAPES_CLASSES.index(name)
        for name in STREET_CLASSES
    }
    horizon = int(rng.integers(26, 33))
    seg = np.full(_STREET_SIZE, train_id['road'], dtype=np.uint8)
    seg[:horizon] = train_id['sky']
    x = 0
    while x < width:
        block = int(rng.integers(10, 31))
        top = int(rng.integers(6, horizon - 3))
        name = ('building', 'vegetation')[rng.integers(2)]
        seg[top:horizon, x:x + block] = train_id[name]
        x += block
    seg[horizon:horizon + int(rng.integers(3, 7))] = train_id['sidewalk']
    hood = height - int(rng.integers(4, 7))
    img = np.zeros((*_STREET_SIZE, 3))
    for name, colour in _STUFF_COLOURS.items():
        tone = np.asarray(colour) * rng.uniform(0.8, 1.15)
        img[seg == train_id[name]] = tone
    things = []  # (bottom row, class, box), 1 to 3 cars and people each
    for name, (_, w_range, h_range, _) in _STREET_STYLE.items():
        for _ in range(rng.integers(1, 4)):
            w = int(rng.integers(w_range[0], w_range[1] + 1))
            h = int(rng.integers(h_range[0], h_range[1] + 1))
            bottom = int(rng.integers(horizon + 2, hood + 1))
            x = int(rng.integers(0, width - w + 1))
            things.append((bottom, name, (x, bottom - h, w, h)))
    # nearer (lower) things are drawn last, over farther ones
    for _, name, box in sorted(things, key=lambda thing: thing[0]):
        shape, _, _, colour = _STREET_STYLE[name]
        mask = _shape_mask(shape, box, _STREET_SIZE)
        seg[mask] = train_id[name]
        _paint(img, mask, colour, rng)
    seg[hood:] = _IGNORE
    img[hood:] = 40
    img += rng.normal(0, 6, img.shape)
    return Scene(_to_uint8(img), (), np.zeros((0, *_STREET_SIZE), bool), seg)


def tiny_scenes(subset: str, num: int, seed: int = 0) -> List[Scene]:
    """The scenes that :func:`make_tiny_downstream_data` writes for a subset.

    Args:
        subset (str): One of ``'voc2007_trainval'``, ``'voc2007_test'``,
            ``'voc2012_train'``, ``'voc2012_val'``, ``'coco_train2017'``,
            ``'coco_val2017'``, ``'cityscapes_train'``, ``'cityscapes_val'``.
        num (int): Number of scenes.
        seed (int): Non-negative random seed. Defaults to 0.

    Returns:
        list[Scene]: The scenes, in file order.
    """
    if subset not in _SUBSETS:
        raise ConfigError(
            f"tiny_scenes: subset='{subset}' must be one of {_SUBSETS}.")
    if seed < 0:
        raise ConfigError(f'tiny_scenes: seed={seed} must be >= 0.')
    rng = np.random.default_rng([seed, _SUBSETS.index(subset)])
    make = _street_scene if subset.startswith('cityscapes') else _object_scene
    return [make(rng) for _ in range(num)]


def _extent(mask: np.ndarray) -> Tuple[int, int, int, int]:
    """First and last column and row of a mask: (x0, y0, x1, y1)."""
    rows, cols = np.nonzero(mask)
    return int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())


def _polygon(mask: np.ndarray) -> List[float]:
    """The pixel-edge outline of a row-convex mask, as a COCO polygon."""
    rows = np.flatnonzero(mask.any(axis=1))
    right, left = [], []
    for row in rows:
        cols = np.flatnonzero(mask[row])
        right += [(cols[-1] + 1, row), (cols[-1] + 1, row + 1)]
        left += [(cols[0], row), (cols[0], row + 1)]
    ring = right + left[::-1]
    corners = [
        point for i, point in enumerate(ring)
        if not (ring[i - 1][0] == point[0] == ring[(i + 1) % len(ring)][0]
                or ring[i - 1][1] == point[1] == ring[(i + 1) % len(ring)][1])
    ]
    return [float(v) for point in corners for v in point]


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a (2 radius + 1) square."""
    height, width = mask.shape
    padded = np.pad(mask, radius)
    out = np.zeros_like(mask)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out |= padded[dy:dy + height, dx:dx + width]
    return out


def _voc_palette() -> List[int]:
    """The 256-colour palette of VOC's ``SegmentationClass`` PNGs."""
    palette = []
    for index in range(256):
        rgb = [0, 0, 0]
        for bit in range(8):
            for channel in range(3):
                if index >> (3 * bit + channel) & 1:
                    rgb[channel] |= 128 >> bit
        palette += rgb
    return palette


def _voc_xml(folder: str, name: str, scene: Scene, segmented: bool) -> bytes:
    """A VOC ``Annotations/*.xml`` file (1-based, inclusive pixel boxes)."""
    height, width = scene.img.shape[:2]
    root = ET.Element('annotation')
    ET.SubElement(root, 'folder').text = folder
    ET.SubElement(root, 'filename').text = f'{name}.jpg'
    source = ET.SubElement(root, 'source')
    ET.SubElement(source, 'database').text = 'hexa_mm tiny downstream data'
    size = ET.SubElement(root, 'size')
    for key, value in (('width', width), ('height', height), ('depth', 3)):
        ET.SubElement(size, key).text = str(value)
    ET.SubElement(root, 'segmented').text = str(int(segmented))
    for label, mask in zip(scene.labels, scene.masks):
        obj = ET.SubElement(root, 'object')
        ET.SubElement(obj, 'name').text = label
        ET.SubElement(obj, 'pose').text = 'Unspecified'
        ET.SubElement(obj, 'truncated').text = '0'
        ET.SubElement(obj, 'difficult').text = '0'
        bndbox = ET.SubElement(obj, 'bndbox')
        for key, value in zip(('xmin', 'ymin', 'xmax', 'ymax'), _extent(mask)):
            ET.SubElement(bndbox, key).text = str(value + 1)
    ET.indent(root)
    return ET.tostring(root, encoding='utf-8') + b'\n'


def _write_lines(path: str, lines: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def _save(img: Image.Image, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if path.endswith('.jpg'):
        img.save(path, quality=95)
    else:
        img.save(path)


def _write_voc(root: str, seed: int, num_train: int, num_val: int) -> None:
    """VOC2007 trainval / test and VOC2012 train / val, detection and seg."""
    palette = _voc_palette()
    names = {}
    for year, split, num, start in (('VOC2007', 'trainval', num_train, 0),
                                    ('VOC2007', 'test', num_val, num_train),
                                    ('VOC2012', 'train', num_train, 0),
                                    ('VOC2012', 'val', num_val, num_train)):
        folder = osp.join(root, year)
        segmented = year == 'VOC2012'
        prefix = '2012_' if segmented else ''
        names[year, split] = [
            f'{prefix}{i:06d}' for i in range(start + 1, start + num + 1)
        ]
        scenes = tiny_scenes(f'{year.lower()}_{split}', num, seed)
        for name, scene in zip(names[year, split], scenes):
            _save(Image.fromarray(scene.img),
                  osp.join(folder, 'JPEGImages', f'{name}.jpg'))
            xml_path = osp.join(folder, 'Annotations', f'{name}.xml')
            os.makedirs(osp.dirname(xml_path), exist_ok=True)
            with open(xml_path, 'wb') as f:
                f.write(_voc_xml(year, name, scene, segmented))
            if not segmented:
                continue
            aug = np.zeros(scene.img.shape[:2], dtype=np.uint8)
            for label, mask in zip(scene.labels, scene.masks):
                aug[mask] = VOC_CLASSES.index(label) + 1
            cls = aug.copy()
            things = scene.masks.any(axis=0)
            cls[_dilate(things, _VOC_BORDER) & ~things] = _IGNORE
            png = Image.frombytes('P', cls.shape[::-1], cls.tobytes())
            png.putpalette(palette)
            _save(png, osp.join(folder, 'SegmentationClass', f'{name}.png'))
            _save(Image.fromarray(aug),
                  osp.join(folder, 'SegmentationClassAug', f'{name}.png'))
    image_sets = {
        'VOC2007/ImageSets/Main/trainval.txt':
        names['VOC2007', 'trainval'],
        'VOC2007/ImageSets/Main/test.txt':
        names['VOC2007', 'test'],
        'VOC2012/ImageSets/Main/trainval.txt':
        names['VOC2012', 'train'] + names['VOC2012', 'val'],
        'VOC2012/ImageSets/Segmentation/train.txt':
        names['VOC2012', 'train'],
        'VOC2012/ImageSets/Segmentation/val.txt':
        names['VOC2012', 'val'],
        # as mmseg's voc_aug converter writes it: the train images, not val
        'VOC2012/ImageSets/Segmentation/aug.txt':
        names['VOC2012', 'train'],
    }
    for path, lines in image_sets.items():
        _write_lines(osp.join(root, path), lines)


def _write_coco(root: str, seed: int, num_train: int, num_val: int) -> None:
    """train2017 / val2017 images and ``instances_*2017.json``."""
    category_id = {name: cat_id for cat_id, name in COCO_CATEGORIES}
    categories = []
    for cat_id, name in COCO_CATEGORIES:
        supercategory = [
            group for first, group in _COCO_SUPERCATEGORIES if cat_id >= first
        ][-1]
        categories.append(
            dict(id=cat_id, name=name, supercategory=supercategory))
    image_id = ann_id = 0
    for split, num in (('train2017', num_train), ('val2017', num_val)):
        images, annotations = [], []
        for scene in tiny_scenes(f'coco_{split}', num, seed):
            image_id += 1
            height, width = scene.img.shape[:2]
            file_name = f'{image_id:012d}.jpg'
            _save(Image.fromarray(scene.img), osp.join(root, split, file_name))
            images.append(
                dict(id=image_id,
                     file_name=file_name,
                     width=width,
                     height=height))
            for label, mask in zip(scene.labels, scene.masks):
                ann_id += 1
                x0, y0, x1, y1 = _extent(mask)
                annotations.append(
                    dict(id=ann_id,
                         image_id=image_id,
                         category_id=category_id[label],
                         segmentation=[_polygon(mask)],
                         area=float(mask.sum()),
                         bbox=[
                             float(x0),
                             float(y0),
                             float(x1 - x0 + 1),
                             float(y1 - y0 + 1)
                         ],
                         iscrowd=0))
        ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
        os.makedirs(osp.dirname(ann_file), exist_ok=True)
        with open(ann_file, 'w') as f:
            json.dump(
                dict(info=dict(description='hexa_mm tiny downstream data',
                               version='1.0'),
                     licenses=[],
                     images=images,
                     annotations=annotations,
                     categories=categories), f)


def _write_cityscapes(root: str, seed: int, num_train: int,
                      num_val: int) -> None:
    """leftImg8bit and gtFine labelTrainIds of one city per split."""
    for split, city, num in (('train', 'aachen', num_train),
                             ('val', 'frankfurt', num_val)):
        scenes = tiny_scenes(f'cityscapes_{split}', num, seed)
        for i, scene in enumerate(scenes):
            stem = f'{city}_{i:06d}_000019'
            _save(
                Image.fromarray(scene.img),
                osp.join(root, 'leftImg8bit', split, city,
                         f'{stem}_leftImg8bit.png'))
            _save(
                Image.fromarray(scene.seg),
                osp.join(root, 'gtFine', split, city,
                         f'{stem}_gtFine_labelTrainIds.png'))


def make_tiny_downstream_data(out_dir: str,
                              seed: int = 0,
                              num_train: int = 12,
                              num_val: int = 8) -> Dict[str, str]:
    """Write the tiny VOC, COCO and Cityscapes sets under ``out_dir``.

    The layout is that of the real data sets::

        out_dir/
          VOCdevkit/
            VOC2007/  JPEGImages/ Annotations/
                      ImageSets/Main/{trainval,test}.txt
            VOC2012/  JPEGImages/ Annotations/
                      ImageSets/Main/trainval.txt
                      SegmentationClass/ (palette PNGs, 255 band)
                      SegmentationClassAug/ (class-index PNGs)
                      ImageSets/Segmentation/{train,val,aug}.txt
          coco/       train2017/ val2017/
                      annotations/instances_{train,val}2017.json
          cityscapes/ leftImg8bit/{train,val}/CITY/*_leftImg8bit.png
                      gtFine/{train,val}/CITY/*_gtFine_labelTrainIds.png

    VOC and COCO images are 128×96 with 1 to 3 objects of
    :data:`THING_CLASSES`, each at least 34 pixels wide and high (so mmdet's
    ``bbox_min_size=32`` keeps them); Cityscapes images are 128×64 street
    scenes of :data:`STREET_CLASSES` with an ignored (255) ego hood. VOC2007
    test, VOC2012 val, COCO val2017 and Cityscapes val hold ``num_val``
    images, the other splits ``num_train``. Files of the same names are
    overwritten; nothing else is removed.

    Args:
        out_dir (str): Folder to write into; created if missing.
        seed (int): Non-negative random seed; the same seed writes the same
            bytes. Defaults to 0.
        num_train (int): Images of each training split. Defaults to 12.
        num_val (int): Images of each validation / test split. Defaults to 8.

    Returns:
        dict[str, str]: The roots written: ``'voc'`` (the ``VOCdevkit``
        folder), ``'coco'`` and ``'cityscapes'``.
    """
    if seed < 0:
        raise ConfigError(f'seed={seed} must be >= 0.')
    if num_train < 1 or num_val < 1:
        raise ConfigError(f'num_train={num_train} and num_val={num_val} '
                          'must both be >= 1.')
    roots = dict(voc=osp.join(out_dir, 'VOCdevkit'),
                 coco=osp.join(out_dir, 'coco'),
                 cityscapes=osp.join(out_dir, 'cityscapes'))
    _write_voc(roots['voc'], seed, num_train, num_val)
    _write_coco(roots['coco'], seed, num_train, num_val)
    _write_cityscapes(roots['cityscapes'], seed, num_train, num_val)
    return roots
