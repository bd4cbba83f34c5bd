"""Reviewed table of scripts/build_vocabulary.py: the everyday categories, as WordNet groups."""

from __future__ import annotations

# Everyday categories: the top level of the class browser and the default breakdown of the
# "classes over time" chart. A category's members are every ImageNet and COCO class under its
# `include` WordNet groups, minus those under `exclude`, plus the `coco` classes named, minus the
# members of the categories named in `not_in` ("*" = every other top-level category). A top-level
# category also holds its sub-categories' members. Top-level categories do not overlap (the build
# checks it), so a stacked chart counts a class once; a sub-category (`parent`) refines one for
# drill-down and must lie inside it. `words` are what a person types for the category; they win
# over WordNet lemmas of the same spelling. Order = display order.
CATEGORIES: list[dict] = []


def _cat(key, name, words, include, *, exclude=(), coco=(), not_in=(), parent=None) -> None:
    CATEGORIES.append(
        {
            "key": key,
            "name": name,
            "words": words,
            "include": include,
            "exclude": exclude,
            "coco": coco,
            "not_in": not_in,
            "parent": parent,
        }
    )


_cat("people", "People", ("people", "persons", "humans", "human"), ("person.n.01",))
_cat("animals", "Animals", ("animals", "animal", "wildlife", "fauna"), ("animal.n.01",))
_cat("dogs", "Dogs", ("dogs",), ("dog.n.01",), parent="animals")
_cat("cats", "Cats", ("cats",), ("domestic_cat.n.01",), parent="animals")
_cat("birds", "Birds", ("birds",), ("bird.n.01",), parent="animals")
_cat(
    "sea_life",
    "Fish & sea life",
    ("sea life", "marine life", "fishes", "sea creatures"),
    (
        "fish.n.01",
        "coelenterate.n.01",
        "echinoderm.n.01",
        "crustacean.n.01",
        "cetacean.n.01",
        "sea_cow.n.01",
        "pinniped_mammal.n.01",
        "sea_slug.n.01",
        "chambered_nautilus.n.01",
        "chiton.n.02",
        "conch.n.01",
    ),
    parent="animals",
)
_cat(
    "insects",
    "Insects, spiders & snails",
    ("insects", "bugs", "spiders", "snails", "creepy crawlies"),
    ("arthropod.n.01", "worm.n.01", "gastropod.n.01", "spider_web.n.01", "honeycomb.n.02"),
    exclude=("crustacean.n.01", "sea_slug.n.01", "conch.n.01"),
    parent="animals",
)
_cat(
    "reptiles",
    "Reptiles & amphibians",
    ("reptiles", "amphibians"),
    ("reptile.n.01", "amphibian.n.03"),
    parent="animals",
)
_cat(
    "plants",
    "Plants & mushrooms",
    ("plants", "plant", "flora", "vegetation", "mushrooms", "fungi"),
    ("plant.n.02", "fungus.n.01", "plant_part.n.01", "hay.n.01", "pot.n.04"),
    not_in=("food",),
)
_cat(
    "food",
    "Food",
    ("food", "foods", "meal", "meals", "dishes", "cuisine"),
    ("food.n.01", "food.n.02"),
    exclude=("beverage.n.01", "feed.n.01"),
)
_cat(
    "drinks",
    "Drinks",
    ("drinks", "drink", "beverages", "beverage"),
    (
        "beverage.n.01",
        "drinking_vessel.n.01",
        "glass.n.02",
        "bottle.n.01",
        "coffeepot.n.01",
        "teapot.n.01",
        "espresso_maker.n.01",
        "cocktail_shaker.n.01",
        "pitcher.n.02",
        "bottlecap.n.01",
        "milk_can.n.01",
    ),
    exclude=("pill_bottle.n.01",),
)
_cat(
    "vehicles",
    "Vehicles",
    ("vehicles", "transport", "transportation", "traffic"),
    ("conveyance.n.03", "car_wheel.n.01", "car_mirror.n.01", "grille.n.02", "seat_belt.n.01"),
    exclude=("skateboard.n.01",),  # wheeled, but sport
    not_in=("weapons",),
)
_cat("cars", "Cars", ("cars",), ("car.n.01",), parent="vehicles")
_cat(
    "boats",
    "Boats & ships",
    ("boats", "ships", "sailing"),
    ("vessel.n.02", "paddle.n.04", "paddlewheel.n.01"),
    parent="vehicles",
)
_cat(
    "aircraft",
    "Aircraft",
    ("aircraft", "airplanes", "aeroplanes", "planes", "flying"),
    ("aircraft.n.01", "spacecraft.n.01", "wing.n.02"),
    not_in=("weapons",),
    parent="vehicles",
)
_cat(
    "trains",
    "Trains & trams",
    ("trains", "railway", "railways", "railroad", "trams"),
    ("train.n.01", "locomotive.n.01", "car.n.02", "streetcar.n.01"),
    parent="vehicles",
)
_cat(
    "bikes",
    "Bicycles & motorbikes",
    ("bikes", "bicycles", "motorbikes", "motorcycles", "cycling"),
    ("bicycle.n.01", "motorcycle.n.01", "motor_scooter.n.01", "tricycle.n.01", "unicycle.n.01"),
    parent="vehicles",
)
_cat(
    "buildings",
    "Buildings & monuments",
    ("buildings", "building", "architecture", "monuments", "monument"),
    (
        "structure.n.01",
        "housing.n.01",
        "roof.n.01",
        "place_of_business.n.01",
        "bell_cote.n.01",
        "birdhouse.n.01",
        "water_tower.n.01",
        "maze.n.01",
        "pier.n.03",
    ),
    exclude=("coil.n.01", "framework.n.03", "signboard.n.01", "grille.n.02", "mobile_home.n.01"),
)
_cat(
    "nature",
    "Landscape & nature",
    ("landscape", "landscapes", "nature", "scenery", "outdoors"),
    ("geological_formation.n.01",),
)
_cat(
    "street",
    "Street & city",
    ("street", "streets", "city", "urban"),
    (
        "traffic_light.n.01",
        "street_sign.n.01",
        "parking_meter.n.01",
        "fireplug.n.01",
        "mailbox.n.01",
        "manhole_cover.n.01",
        "gas_pump.n.01",
        "pay-phone.n.01",
        "cash_machine.n.01",
        "ashcan.n.01",
        "shopping_basket.n.01",
        "bench.n.01",
    ),
)
_cat(
    "sport",
    "Sport, games & toys",
    ("sport", "sports", "games", "toys"),
    (
        "sports_equipment.n.01",
        "sports_implement.n.01",
        "game_equipment.n.01",
        "plaything.n.01",
        "scoreboard.n.01",
        "frisbee.n.01",
        "kite.n.03",
        "ski.n.01",
        "snowboard.n.01",
        "skateboard.n.01",
        "surfboard.n.01",
        "puck.n.02",
        "snorkel.n.01",
        "parachute.n.01",
        "carousel.n.02",
        "pinwheel.n.02",
    ),
    exclude=("crossword_puzzle.n.01",),
    not_in=("vehicles",),
)
_cat(
    "music",
    "Music",
    ("music", "musical instruments", "instruments"),
    ("musical_instrument.n.01", "drumstick.n.02", "pick.n.05", "stage.n.03"),
)
_cat(
    "weapons",
    "Weapons & armour",
    ("weapons", "arms", "armour", "armor"),
    (
        "weapon.n.01",
        "armor.n.01",
        "armor_plate.n.01",
        "pickelhaube.n.01",
        "holster.n.01",
        "scabbard.n.01",
    ),
)
_cat(
    "clothing",
    "Clothing & accessories",
    ("clothing", "clothes", "fashion", "accessories", "apparel", "wear"),
    (
        "clothing.n.01",
        "footwear.n.02",
        "jewelry.n.01",
        "bag.n.04",
        "purse.n.03",
        "backpack.n.01",
        "bag.n.06",
        "mailbag.n.02",
        "umbrella.n.01",
        "wallet.n.01",
        "spectacles.n.01",
        "sunglass.n.01",  # a burning glass in WordNet, but ImageNet's images are sunglasses
        "watch.n.01",
        "cloak.n.01",
        "handkerchief.n.01",
        "bib.n.01",
        "mask.n.04",
        "face_mask.n.01",
        "velvet.n.01",
        "wool.n.01",
    ),
    exclude=("seat_belt.n.01",),
    not_in=("weapons",),
)
_cat(
    "home",
    "Furniture & home",
    ("furniture", "home", "household", "interior", "indoors"),
    (
        "furnishing.n.02",
        "home_appliance.n.01",
        "plumbing_fixture.n.01",
        "bathtub.n.01",
        "tub.n.02",
        "washbasin.n.02",
        "vase.n.01",
        "clock.n.01",
        "white_goods.n.02",
        "towel.n.01",
        "toilet_tissue.n.01",
        "floor_cover.n.01",
        "blind.n.03",
        "screen.n.05",
        "shoji.n.01",
        "lampshade.n.01",
        "toiletry.n.01",
        "soap_dispenser.n.01",
        "hamper.n.02",
        "piggy_bank.n.01",
        "safe.n.01",
        "thimble.n.02",
        "sleeping_bag.n.01",
        "band_aid.n.01",
        "pill_bottle.n.01",
        "pillow.n.01",
        "bedclothes.n.01",
        "heater.n.01",
        "radiator.n.03",
        "electric_fan.n.01",
        "hand_blower.n.01",
    ),
    not_in=("drinks", "sport", "street"),
)
_cat(
    "kitchen",
    "Kitchen & tableware",
    ("kitchen", "tableware", "cutlery", "crockery"),
    (
        "kitchen_utensil.n.01",
        "tableware.n.01",
        "kitchen_appliance.n.01",
        "bowl.n.03",
        "ladle.n.01",
        "measuring_cup.n.01",
        "mortar.n.03",
        "tray.n.01",
        "plate_rack.n.01",
        "saltshaker.n.01",
        "dishrag.n.01",
        "fork.n.01",
        "spoon.n.01",
        "knife.n.01",
    ),
    exclude=("petri_dish.n.01", "letter_opener.n.01"),
    not_in=("drinks",),
    parent="home",
)
_cat(
    "electronics",
    "Electronics & computers",
    ("electronics", "computers", "gadgets"),
    (
        "electronic_equipment.n.01",
        "computer.n.01",
        "electronic_device.n.01",
        "keyboard.n.01",
        "remote_control.n.01",
        "communication_system.n.01",
        "photographic_equipment.n.01",
        "display.n.06",
        "cassette.n.01",
        "lens_cap.n.01",
        "electro-acoustic_transducer.n.01",
        "projector.n.02",
        "hard_disc.n.01",
        "photocopier.n.01",
    ),
    not_in=("street",),
)
_cat(
    "books",
    "Books & writing",
    ("books", "writing", "stationery", "documents", "reading"),
    (
        "book.n.02",
        "print_media.n.01",
        "writing_implement.n.01",
        "envelope.n.01",
        "binder.n.03",
        "crossword_puzzle.n.01",
        "book_jacket.n.01",
        "pencil_box.n.01",
    ),
)
# The rest of the made things, so that the chart's categories cover (nearly) every class.
_cat(
    "objects",
    "Other objects",
    ("objects", "things", "equipment", "devices", "machines", "containers"),
    ("artifact.n.01",),
    not_in=("*",),
)
_cat(
    "tools",
    "Tools",
    ("tools", "hardware"),
    ("tool.n.01", "power_tool.n.01", "hand_tool.n.01", "chain.n.03", "fastener.n.02"),
    not_in=("*",),
    parent="objects",
)
