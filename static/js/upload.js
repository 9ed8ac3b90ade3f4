// One file upload with progress and cancel (XMLHttpRequest: fetch has no upload progress).

import { uploadRefusal } from './errors.js';
import { t } from './i18n.js';
import { openAtHost } from './host-base.js';

export class UploadFailed extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // 'too_large' | 'disk_full' | 'disconnected' | 'host_error' | 'cancelled' | 'refused'
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
          reject(new UploadFailed('refused', t('upload.unreadable')));
        }
        return;
      }
      const kind = xhr.status === 413 ? 'too_large' : xhr.status === 507 ? 'disk_full'
        : xhr.status >= 500 ? 'host_error' : 'refused';
      reject(new UploadFailed(kind, uploadRefusal(xhr.status)));
    });
    xhr.addEventListener('error', () => reject(new UploadFailed('disconnected', t('upload.disconnected'))));
    xhr.addEventListener('abort', () => reject(new UploadFailed('cancelled', t('upload.cancelled'))));
    const form = new FormData();
    form.append('file', file, file.name);
    openAtHost(xhr, 'POST', '/api/files');
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
