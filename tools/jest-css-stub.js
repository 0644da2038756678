// jest: a stylesheet imported by a console component is nothing in node tests.
module.exports = {};
