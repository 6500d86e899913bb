"""Images as bytes: decoding them safely, and drawing what was found on them."""
