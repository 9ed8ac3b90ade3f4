// One file upload with progress and cancel (XMLHttpRequest: fetch has no upload progress).

export class UploadFailed extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // 'too_large' | 'disk_full' | 'disconnected' | 'host_error' | 'cancelled' | 'refused'
  }
}

function detailOf(xhr) {
  try {
    const body = JSON.parse(xhr.responseText);
    return typeof body.detail === 'string' ? body.detail : '';
  } catch {
    return '';
  }
}

/** Start uploading `file`; returns {promise (resolves to the file info), abort()}. */
export function uploadFile(file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 201) {
        try { resolve(JSON.parse(xhr.responseText)); } catch {
          reject(new UploadFailed('refused', 'The host sent an answer this page cannot read.'));
        }
        return;
      }
      const detail = detailOf(xhr);
      if (xhr.status === 413) reject(new UploadFailed('too_large', `Too large: ${detail || 'over the room’s limit'}.`));
      else if (xhr.status === 507) reject(new UploadFailed('disk_full', `The host has no room for it: ${detail || 'disk full'}.`));
      else if (xhr.status >= 500) {
        reject(new UploadFailed('host_error', `The host could not take the file${detail ? `: ${detail}` : ` (HTTP ${xhr.status})`}. It may have restarted; try again.`));
      } else reject(new UploadFailed('refused', detail ? `Upload refused: ${detail}.` : `Upload refused (HTTP ${xhr.status}).`));
    });
    xhr.addEventListener('error', () => reject(new UploadFailed('disconnected',
      'Disconnected from the host during the upload.')));
    xhr.addEventListener('abort', () => reject(new UploadFailed('cancelled', 'Upload cancelled.')));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.open('POST', '/api/files');
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
