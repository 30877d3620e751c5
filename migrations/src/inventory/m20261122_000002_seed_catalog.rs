crate::sql_migration!(
    "m20261122_000002_seed_catalog",
    r#"
-- The demo catalog. 'hot-sneaker' has little stock on purpose: it is the flash-sale product
-- that hundreds of shoppers try to buy at once.
INSERT INTO products (sku, name, description, price_minor, initial_stock, available, hot) VALUES
 ('hot-sneaker',    'Limited Runner Sneaker', 'The flash-sale drop: only a handful exist.',          12900,   10,   10, TRUE),
 ('coffee-beans',   'Single-Origin Coffee',   '1 kg of washed Ethiopian beans, roasted weekly.',      2450, 100000, 100000, FALSE),
 ('pour-over',      'Pour-Over Kettle',       'Gooseneck kettle with a thermometer in the lid.',      5900, 100000, 100000, FALSE),
 ('mug',            'Stoneware Mug',          'Hand-glazed, 350 ml, dishwasher safe.',                1800, 100000, 100000, FALSE),
 ('grinder',        'Burr Grinder',           'Conical steel burrs, 40 grind settings.',             14900, 100000, 100000, FALSE),
 ('notebook',       'Dot-Grid Notebook',      'A5, 160 pages of 100 g paper.',                        1400, 100000, 100000, FALSE),
 ('fountain-pen',   'Fountain Pen',           'Steel nib, converter included.',                       3900, 100000, 100000, FALSE),
 ('backpack',       'Commuter Backpack',      '20 l, waterproof, laptop sleeve.',                     8900, 100000, 100000, FALSE),
 ('headphones',     'Wireless Headphones',    'Over-ear, 30 h battery, noise cancelling.',           19900, 100000, 100000, FALSE),
 ('desk-lamp',      'Desk Lamp',              'Warm-to-cool LED with a dimmer.',                      4900, 100000, 100000, FALSE),
 ('plant',          'Potted Monstera',        'A forgiving houseplant in a 17 cm pot.',               2900, 100000, 100000, FALSE),
 ('socks',          'Merino Socks',           'Three pairs, cushioned sole.',                         2200, 100000, 100000, FALSE);
"#,
    "DELETE FROM products;"
);
