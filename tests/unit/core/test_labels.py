import numpy as np
import pytest

from smile_studio.core import labels as L


def test_official_ids_names_and_colours():
    assert L.NUM_CLASSES == 19
    keys = [c.key for c in L.CLASSES]
    assert keys == ["background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
                    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"]
    assert [c.id for c in L.CLASSES] == list(range(19))
    assert L.PALETTE.shape == (19, 3) and L.PALETTE.dtype == np.uint8
    assert tuple(L.PALETTE[13]) == (0, 0, 204)  # hair
    assert tuple(L.PALETTE[1]) == (204, 0, 0)  # skin
    assert tuple(L.PALETTE[18]) == (0, 204, 0)  # cloth
    assert len({tuple(c) for c in L.PALETTE}) == 19  # colours are unique, so colour maps decode


def test_mirror_pairs_are_an_involution():
    pairs = {(c.key, L.CLASSES[c.mirror].key) for c in L.CLASSES if c.mirror != c.id}
    assert pairs == {("l_eye", "r_eye"), ("r_eye", "l_eye"), ("l_brow", "r_brow"), ("r_brow", "l_brow"),
                     ("l_ear", "r_ear"), ("r_ear", "l_ear")}
    assert np.array_equal(L.MIRROR_LUT[L.MIRROR_LUT], np.arange(19))


def test_hotkeys_unique():
    keys = [c.hotkey for c in L.CLASSES]
    assert len(set(keys)) == 19 and keys[3] == "3" and keys[13] == "Alt+3"


def test_bisenet_table_matches_official():
    assert L.BISENET_TO_CELEBA.tolist() == [0, 1, 6, 7, 4, 5, 3, 8, 9, 15, 2, 10, 11, 12, 17, 16, 18, 13, 14]
    assert L.from_bisenet(np.array([[17, 10]])).tolist() == [[13, 2]]


def test_twelve_domain_order_and_vector():
    assert L.DOMAINS == ("Male", "Female", "NOT_Eyeglasses", "Eyeglasses", "Few_Hair", "Much_Hair", "NOT_Bangs",
                         "Bangs", "NOT_Earrings", "Earrings", "NOT_Hat", "Hat")
    state = {"gender": "female", "eyeglasses": "off", "bald": "off", "bangs": "off", "earrings": "on", "hat": "off"}
    vec = L.label_vector(state)
    # the golden yA of e4s_28063: Female, NOT_Eyeglasses, Much_Hair, NOT_Bangs, Earrings, NOT_Hat
    assert vec.tolist() == [0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0]
    assert vec.sum() == 6
    assert L.attributes_from_vector(vec) == state
    bald = dict(state, bald="on")
    assert L.label_vector(bald)[4:6].tolist() == [1, 0]


def test_unencodable_states_are_errors():
    with pytest.raises(ValueError, match="exactly one"):
        L.attributes_from_vector(np.array([1, 1] + [1, 0] * 5))
    with pytest.raises(ValueError, match="exactly one"):
        L.attributes_from_vector(np.array([0, 0] + [1, 0] * 5))
    with pytest.raises(ValueError, match="gender"):
        L.normalise_value("gender", "on")
    with pytest.raises(ValueError, match="unknown attribute"):
        L.normalise_value("smile", "on")
    with pytest.raises(ValueError, match="missing"):
        L.validate_attributes({"gender": "male"})


def test_value_aliases_and_class_lookup():
    assert L.normalise_value("hat", True) == "on"
    assert L.normalise_value("hat", "yes") == "on"
    assert L.normalise_value("gender", "Male") == "male"
    assert L.class_id("hair") == 13 and L.class_id("Upper lip") == 11 and L.class_id("5") == 5
    with pytest.raises(ValueError):
        L.class_id("moustache")
    with pytest.raises(ValueError):
        L.class_id(19)
