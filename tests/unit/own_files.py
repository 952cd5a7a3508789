"""Files of a user's own making for the tests of your own data: images in several formats and modes, and
zips of class folders with what a real upload holds besides images (notes, broken files, macOS junk).
"""
from __future__ import annotations


def png(colour: tuple, size=(20, 14), mode: str = "RGB", fmt: str = "PNG") -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size, colour if mode != "P" else 3).save(buf, fmt)
    return buf.getvalue()


def gif_two_frames() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    frames = [Image.new("L", (16, 16), 250), Image.new("L", (16, 16), 10)]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def zip_of(members: dict, symlinks: tuple = ()) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            z.writestr(info, "/etc/passwd")
    return buf.getvalue()


def pets() -> bytes:
    members = {f"pets/cats/c{i}.png": png((220, 30, 30)) for i in range(6)}
    members.update({f"pets/dogs/d{i}.jpg": png((30, 30, 220), size=(30, 40), fmt="JPEG") for i in range(5)})
    members.update({"pets/dogs/odd.png": png((0, 0, 200, 128), mode="RGBA"), "pets/dogs/pal.png": png(None, mode="P"),
                    "pets/dogs/anim.gif": gif_two_frames(), "pets/dogs/notes.txt": b"good dogs",
                    "pets/dogs/broken.png": b"\x89PNG not really", "pets/more.zip": zip_of({"x/y.png": png((1, 2, 3))}),
                    "pets/loose.png": png((9, 9, 9)), "__MACOSX/pets/._c0.png": b"junk", "pets/.DS_Store": b"junk"})
    return zip_of(members, symlinks=("pets/cats/link.png",))
