// Jest transform: an imported .svg file becomes its text, as the labextension builder does.
module.exports = {
  process(source) {
    return { code: `module.exports = ${JSON.stringify(source)};` };
  }
};
