#!/usr/bin/env node
/**
 * Runs a shell command inside a running JupyterLab, in one of its terminals (what a Binder user
 * gets from File > New > Terminal), for scripts/binder-check.sh: the command is a child of that
 * JupyterLab, with its user, cgroup and seccomp filter.
 *
 *   node scripts/binder/in-lab.cjs URL COMMAND
 *
 * Prints what the terminal showed and exits with the command's exit status (124 when it gave
 * none within 30 s). URL is JupyterLab's base URL; the check's JupyterLab needs no token and no
 * XSRF cookie (galata's server settings). The terminal is deleted afterwards.
 */
'use strict';
const WebSocket = require('ws');

const [url, command] = process.argv.slice(2);
if (!url || !command) {
  console.error('usage: node in-lab.cjs URL COMMAND');
  process.exit(2);
}
const base = url.replace(/\/$/, '');
const marker = `rc-${process.pid}-`;

async function main() {
  const created = await fetch(`${base}/api/terminals`, { method: 'POST' });
  if (!created.ok) {
    throw new Error(`POST /api/terminals answered ${created.status}`);
  }
  const { name } = await created.json();
  try {
    return await run(name);
  } finally {
    await fetch(`${base}/api/terminals/${encodeURIComponent(name)}`, {
      method: 'DELETE'
    }).catch(() => undefined);
  }
}

/** Types the command, then an echo of its status after a marker the typed line cannot match. */
function run(name) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(
      `${base.replace(/^http/, 'ws')}/terminals/websocket/${encodeURIComponent(name)}`
    );
    let output = '';
    const timer = setTimeout(() => {
      socket.terminate();
      resolve({ output, status: 124 });
    }, 30000);
    socket.on('open', () => {
      socket.send(
        JSON.stringify(['stdin', `${command}; echo ${marker}$?-end\r`])
      );
    });
    socket.on('message', data => {
      const [kind, text] = JSON.parse(String(data));
      if (kind !== 'stdout') {
        return;
      }
      output += text;
      const done = new RegExp(`${marker}(\\d+)-end`).exec(output);
      if (done) {
        clearTimeout(timer);
        socket.close();
        resolve({ output, status: Number(done[1]) });
      }
    });
    socket.on('error', error => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

main().then(
  ({ output, status }) => {
    process.stdout.write(output.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, ''));
    process.exit(status);
  },
  error => {
    console.error(`in-lab: ${error.message}`);
    process.exit(125);
  }
);
