"""Reviewed word tables of scripts/build_vocabulary.py: COCO class → WordNet synset, and aliases."""

from __future__ import annotations

# The 80 COCO class names exactly as the YOLO model's `names` metadata gives them (index order),
# each mapped by hand to one WordNet 3.0 noun synset (nltk 3.10's name: first lemma in lower
# case.n.sense number). Where an ImageNet class is the same object, the COCO class shares its
# synset, so one node holds both detectors' labels. A comment marks every choice that could
# reasonably have gone another way.
COCO_SYNSETS: dict[str, str] = {
    "person": "person.n.01",
    "bicycle": "bicycle.n.01",
    "car": "car.n.01",
    "motorcycle": "motorcycle.n.01",  # ImageNet "moped" is under it
    "airplane": "airplane.n.01",
    "bus": "bus.n.01",
    # COCO "train" boxes are whole trains, locomotives and carriages; train.n.01 is the whole train
    # (ImageNet "bullet train"); the Trains category adds locomotives and railway cars.
    "train": "train.n.01",
    "truck": "truck.n.01",
    # Debatable: COCO "boat" boxes include ships, ferries and sailing yachts, not only small boats
    # (boat.n.01), so the class is mapped to vessel.n.02 (watercraft), which holds ImageNet's ships.
    "boat": "vessel.n.02",
    "traffic light": "traffic_light.n.01",  # = ImageNet "traffic light" (WordNet: under signal)
    "fire hydrant": "fireplug.n.01",
    # Debatable: WordNet 3.0 has no stop sign nor traffic sign; street_sign.n.01 is ImageNet's
    # "street sign" class, whose images include stop signs.
    "stop sign": "street_sign.n.01",
    "parking meter": "parking_meter.n.01",  # = ImageNet "parking meter"
    "bench": "bench.n.01",  # the seat (ImageNet "park bench" is under it), not the workbench
    "bird": "bird.n.01",
    # Debatable: COCO cats are house cats; cat.n.01 would add lynx and cougar.
    "cat": "domestic_cat.n.01",
    "dog": "dog.n.01",
    "horse": "horse.n.01",
    "sheep": "sheep.n.01",
    # Debatable: COCO "cow" covers cattle of both sexes (cow.n.01 is the female); cattle.n.01
    # ("cattle, cows, kine, oxen") holds ImageNet "ox".
    "cow": "cattle.n.01",
    "elephant": "elephant.n.01",
    "bear": "bear.n.01",
    "zebra": "zebra.n.01",  # = ImageNet "zebra"
    "giraffe": "giraffe.n.01",
    "backpack": "backpack.n.01",  # = ImageNet "backpack"
    "umbrella": "umbrella.n.01",  # = ImageNet "umbrella"
    "handbag": "bag.n.04",  # "bag, handbag, pocketbook, purse"; ImageNet "purse" is purse.n.03
    "tie": "necktie.n.01",  # ImageNet bow tie, Windsor tie and bolo tie are under it
    "suitcase": "bag.n.06",  # "bag, traveling bag, grip, suitcase"
    "frisbee": "frisbee.n.01",
    "skis": "ski.n.01",  # = ImageNet "ski"
    "snowboard": "snowboard.n.01",
    # Debatable: no "sports ball" in WordNet; ball.n.01 is the game ball (ImageNet soccer ball,
    # tennis ball, golf ball, … are under it), not ball.n.06 (a plaything).
    "sports ball": "ball.n.01",
    # The toy (kite.n.03). Note: ImageNet's "kite" label is the bird of prey (kite.n.04).
    "kite": "kite.n.03",
    "baseball bat": "baseball_bat.n.01",
    "baseball glove": "baseball_glove.n.01",
    "skateboard": "skateboard.n.01",
    "surfboard": "surfboard.n.01",
    # Debatable: tennis_racket.n.01 is more precise, but ImageNet's "racket" (racket.n.04) is the
    # same object; sharing the node lets "racket" and "tennis racket" find both detectors' photos.
    "tennis racket": "racket.n.04",
    "bottle": "bottle.n.01",  # ImageNet beer/wine/water/pop/pill bottle are under it
    "wine glass": "wineglass.n.01",
    "cup": "cup.n.01",  # the drinking cup; ImageNet's "cup" label is cup.n.06 (a punch)
    "fork": "fork.n.01",  # cutlery, not the garden fork
    # Debatable: knife.n.01 (edge tool: ImageNet cleaver, letter opener), not table_knife.n.01.
    "knife": "knife.n.01",
    "spoon": "spoon.n.01",  # ImageNet "wooden spoon" is under it
    # Debatable: bowl.n.03 (a dish for serving food: ImageNet soup bowl, mixing bowl) rather than
    # bowl.n.01 (any round open vessel).
    "bowl": "bowl.n.03",
    "banana": "banana.n.02",  # the fruit (= ImageNet "banana"), not the plant
    "apple": "apple.n.01",  # the fruit; ImageNet "Granny Smith" is under it
    "sandwich": "sandwich.n.01",  # ImageNet cheeseburger and hotdog are under it
    "orange": "orange.n.01",  # the fruit (= ImageNet "orange")
    "broccoli": "broccoli.n.02",  # the vegetable (= ImageNet "broccoli")
    # The vegetable (root_vegetable); carrot.n.01, "edible root of the carrot plant", is filed
    # under plant parts, not food.
    "carrot": "carrot.n.03",
    "hot dog": "hotdog.n.02",  # the frankfurter in a bun (= ImageNet "hotdog")
    "pizza": "pizza.n.01",  # = ImageNet "pizza"
    "donut": "doughnut.n.02",
    "cake": "cake.n.03",  # the baked good, not "a cake of soap"
    "chair": "chair.n.01",  # ImageNet folding/rocking/barber chair and throne are under it
    "couch": "sofa.n.01",  # ImageNet "studio couch" is under it
    # Debatable: COCO "potted plant" boxes are a plant with its pot; pot_plant.n.01 ("a plant
    # suitable for growing in a flowerpot") is a plant, so it lands with the plants.
    "potted plant": "pot_plant.n.01",
    "bed": "bed.n.01",  # furniture (ImageNet "four-poster" is under it), not a flower bed
    "dining table": "dining_table.n.01",  # = ImageNet "dining table"
    "toilet": "toilet.n.02",  # the plumbing fixture, not the room
    # Debatable: the exact sense is television_receiver.n.01 (tv set), but ImageNet's class
    # n04404412 "television" (television.n.02) is photographed as tv sets; sharing its node lets
    # "tv" and "television" find both detectors' photos.
    "tv": "television.n.02",
    "laptop": "laptop.n.01",  # = ImageNet "laptop"
    "mouse": "mouse.n.04",  # the computer mouse (= ImageNet "mouse"), not the rodent
    "remote": "remote_control.n.01",  # = ImageNet "remote control"
    "keyboard": "computer_keyboard.n.01",  # = ImageNet "computer keyboard" (not a piano's)
    "cell phone": "cellular_telephone.n.01",  # = ImageNet "cellular telephone"
    "microwave": "microwave.n.02",  # the oven (= ImageNet "microwave"), not the wave
    "oven": "oven.n.01",
    "toaster": "toaster.n.02",  # the appliance (= ImageNet "toaster"), not the person toasting
    "sink": "sink.n.01",  # the plumbing fixture; ImageNet "washbasin" is basin.n.01, kept apart
    "refrigerator": "refrigerator.n.01",  # = ImageNet "refrigerator"
    "book": "book.n.02",  # the physical volume, not the written work (book.n.01)
    "clock": "clock.n.01",  # ImageNet analog, digital and wall clock are under it
    "vase": "vase.n.01",  # = ImageNet "vase"
    "scissors": "scissors.n.01",
    "teddy bear": "teddy.n.01",  # = ImageNet "teddy"
    "hair drier": "hand_blower.n.01",  # "hair drier" is a lemma of it (= ImageNet "hand blower")
    "toothbrush": "toothbrush.n.01",
}


# Everyday words that WordNet files under another synset than the one ImageNet photographs, or
# whose stored label is a rare sense ("plane" is ImageNet's carpenter's plane). Each maps to the
# entries it should find; like category words they win over stored labels and lemmas.
ALIASES: dict[str, tuple[str, ...]] = {
    # WordNet's beach.n.01 has no ImageNet class; ImageNet's "seashore" images are beaches.
    "beach": ("seashore.n.01",),
    "lake": ("lakeside.n.01",),
    # The stored label "plane" is the carpenter's plane (still found as "carpenter's plane").
    "plane": ("heavier-than-air_craft.n.01",),
    # The stored label "mushroom" is the vegetable; the fungi are separate ImageNet classes.
    "mushroom": ("mushroom.n.05", "fungus.n.01"),
    # fruit.n.01 is the botanical fruit (acorns, rose hips); people mean the edible kind.
    "fruit": ("edible_fruit.n.01",),
    "temple": ("place_of_worship.n.01",),
    "beer": ("beer_bottle.n.01", "beer_glass.n.01"),
    "wine": ("wine.n.01", "wine_bottle.n.01", "wineglass.n.01"),
    "smartphone": ("cellular_telephone.n.01",),
}
